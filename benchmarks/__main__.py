"""Run every benchmark in turn."""

from . import io_decode, snn, transforms

for bench in (io_decode, transforms, snn):
    bench.main([])
