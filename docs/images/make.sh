#!/usr/bin/env bash
# Regenerates the README pictures in this folder with `spikestream show` and spikestream.viz.
# Needs ../shared/data/real beside the repository, the viz and train extras, and a trained
# NDigits checkpoint with its run folder: `spikestream fit --config quickstart` (RUN below).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
R=${SPIKESTREAM_REAL_DATA:-$ROOT/../shared/data/real}
RUN=${RUN:-$ROOT/runs/quickstart/version_0}   # spikestream fit --config quickstart, run at ROOT
S=spikestream
$S show "$R/tonic/sample_nmnist.bin" --out nmnist.gif --duration 10 --scale 4 --fps 10
$S show "$R/tonic/sample_nmnist.bin" --out nmnist_titled.png --titled --frames 8
$S show "$R/tonic/sample.aedat4" --out aedat4.gif --duration 20 --fps 25
$S show "$R/tonic/sample.aedat4" --out aedat4_grid.png --frames 6 --columns 3
$S show "$R/expelliarmus/evt2_sample.raw" --out evt2_scatter.png --scatter
python - <<'PY'
# NDigits: the first test sample of each class (its first saccade), and that of digit 3 as a clip
import numpy as np
from spikestream import write
from spikestream.datasets import NDigits
from spikestream.viz import event_frames, save_frames

ds = NDigits(train=False)
first = [int(np.argmax(np.asarray(ds.targets) == c)) for c in range(10)]
# the first of the three saccades of each sample
tiles = np.stack([event_frames(ds[i][0], ds.sensor_size, n_frames=3)[0] for i in first])
save_frames("ndigits_classes.png", tiles, scale=3, columns=10)
write("/tmp/ndigits_3.npz", ds[first[3]][0], ds.sensor_size)
PY
$S show /tmp/ndigits_3.npz --out ndigits_digit3.gif --duration 10 --scale 4 --fps 10
$S show "$RUN" --out curves.png
$S show "$RUN/checkpoints/last.ckpt" --traces --sample ndigits:3 --out traces.png
python viewer_shot.py "$RUN/checkpoints/last.ckpt" viewer.png 4.5
