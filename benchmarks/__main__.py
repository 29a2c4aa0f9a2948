"""Run every benchmark in turn."""

from . import io_decode

for bench in (io_decode,):
    bench.main([])
