"""Run every benchmark in turn."""

from . import io_decode, transforms

for bench in (io_decode, transforms):
    bench.main([])
