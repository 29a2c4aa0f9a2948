"""A 2-process DDP run (gloo, CPU) of ``spikestream fit``, as a user starts it: Lightning's
launcher re-executes ``python -m spikestream fit ...`` for rank 1; both ranks read one packed
store and Lightning's distributed sampler gives them disjoint halves of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from lightning.pytorch.callbacks import Callback

from .conftest import REPO
from .test_train import ndigits, tiny_config  # noqa: F401  # the session fixture

INDEX_DIR = "SPIKESTREAM_TEST_INDEX_DIR"


class IndexLog(Callback):
    """Appends the store indices of every training batch to ``$INDEX_DIR/rank<r>.txt``."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        path = Path(os.environ[INDEX_DIR]) / f"rank{trainer.global_rank}.txt"
        with path.open("a") as f:
            f.write(" ".join(str(int(i)) for i in batch["index"]) + "\n")


def test_ddp_two_ranks_one_store(ndigits, tmp_path):  # noqa: F811
    config = tiny_config(tmp_path, ndigits, limit_samples=64, batch_size=8)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        INDEX_DIR: str(tmp_path),
        "OMP_NUM_THREADS": "1",
    }
    argv = [sys.executable, "-m", "spikestream", "fit", "--config", str(config),
            "--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu",
            "--trainer.callbacks+=tests.test_train_ddp.IndexLog"]  # fmt: skip
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = [
        [
            int(i)
            for line in (tmp_path / f"rank{r}.txt").read_text().split("\n")
            for i in line.split()
        ]
        for r in (0, 1)
    ]
    assert len(seen[0]) == len(seen[1]) == 32  # 64 training samples, half each
    assert not set(seen[0]) & set(seen[1])  # disjoint halves
    assert len(set(seen[0]) | set(seen[1])) == 64
    ckpts = tmp_path / "runs" / "tiny" / "version_0" / "checkpoints"
    assert (ckpts / "last.ckpt").is_file()
    assert sorted(p.name for p in (tmp_path / "runs" / "tiny").iterdir()) == ["version_0"]
