"""Run every benchmark in turn (the live ones spawn server processes; the whole run takes a long
time on 2 cores: run one module at a time to re-measure one table)."""

from . import datasets, io_decode, live, live_wire, models, quickstart, snn, train, transforms

for bench in (io_decode, transforms, snn, models, train, datasets, live_wire, live, quickstart):
    bench.main([])
