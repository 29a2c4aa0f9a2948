"""Run every benchmark in turn."""

from . import datasets, io_decode, models, snn, transforms

for bench in (io_decode, transforms, snn, models, datasets):
    bench.main([])
