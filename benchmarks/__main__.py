"""Run every benchmark in turn."""

from . import datasets, io_decode, snn, transforms

for bench in (io_decode, transforms, snn, datasets):
    bench.main([])
