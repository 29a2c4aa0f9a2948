"""Draw docs/ndigits.png: one NDigits sample per class, ON events green, OFF events magenta,
over the three saccades (needs matplotlib: ``pip install matplotlib``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from spikestream.datasets import NDigits
from spikestream.transforms.functional import to_frames


def main() -> None:
    ds = NDigits(train=True)
    first = {int(c): int(np.argmax(ds.targets == c)) for c in range(10)}
    fig, axes = plt.subplots(3, 10, figsize=(12, 4))
    for col, (label, index) in enumerate(first.items()):
        events, _ = ds[index]
        frames = to_frames(events, ds.sensor_size, n_frames=3, split_by="time")
        for row in range(3):
            rgb = np.zeros((34, 34, 3))
            rgb[..., 1] = np.clip(frames[row, 1] / 3, 0, 1)
            rgb[..., 0] = rgb[..., 2] = np.clip(frames[row, 0] / 3, 0, 1)
            ax = axes[row, col]
            ax.imshow(rgb, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{label}: {len(events)} ev", fontsize=8)
        axes[0, 0].set_ylabel("saccade 1", fontsize=8)
        axes[1, 0].set_ylabel("saccade 2", fontsize=8)
        axes[2, 0].set_ylabel("saccade 3", fontsize=8)
    fig.tight_layout()
    out = Path(__file__).with_name("ndigits.png")
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
