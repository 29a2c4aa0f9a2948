"""Parallel numba kernels under fork (DataLoader workers) and under concurrent Python threads
(the live engine): the same results as serial calls, no crash, no hang (every wait is bounded,
so a hang fails the test)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numba
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from spikestream import events as E
from spikestream.snn import LIFNode
from spikestream.transforms import functional as F
from spikestream.transforms.functional.frames import PARALLEL_MIN_EVENTS

REPO = Path(__file__).resolve().parents[1]
SENSOR = (64, 48)


def _events(seed: int) -> np.ndarray:
    """Enough events for the parallel frame kernel."""
    rng = np.random.default_rng(seed)
    n = PARALLEL_MIN_EVENTS + 1000
    t = np.sort(rng.integers(0, 1_000_000, n))
    return E.make_events(
        t, rng.integers(0, SENSOR[0], n), rng.integers(0, SENSOR[1], n), rng.integers(0, 2, n)
    )


def _inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, 2, 3000, generator=g) * 1.5, torch.randn(6, 2, 3000, generator=g)


def _lif(x: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and input gradient of the fused kernel (forward and backward both parallel)."""
    xi = x.clone().requires_grad_(True)
    s = LIFNode(tau=2.0, step_mode="m", backend="cpu")(xi)
    s.backward(grad)
    assert xi.grad is not None
    return s.detach(), xi.grad


def _frames(ev: np.ndarray) -> np.ndarray:
    return F.to_frames(ev, SENSOR, n_frames=8, split_by="number")


def _work(seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    return (*_lif(*_inputs(seed)), _frames(_events(seed)))


class _KernelDataset(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int):
        return _work(i)


def test_fork_workers_after_parent_ran_kernels():
    """GNU OpenMP (numba's default layer on Linux) killed every forked worker that launched a
    kernel after the parent had: the training default (num_workers > 0 forks)."""
    expected = [_work(i) for i in range(4)]  # the parent runs every kernel first
    loader = DataLoader(
        _KernelDataset(),
        batch_size=None,
        num_workers=2,
        multiprocessing_context="fork",
        timeout=120,  # a hung worker fails the test instead of blocking it
    )
    got = list(loader)
    assert len(got) == 4
    for (s, gx, frames), (s_ref, gx_ref, frames_ref) in zip(got, expected, strict=True):
        assert torch.equal(s, s_ref) and torch.equal(gx, gx_ref)
        assert np.array_equal(np.asarray(frames), frames_ref)


def _same(got: tuple, expected: tuple) -> bool:
    return all(
        torch.equal(a, b) if isinstance(a, torch.Tensor) else np.array_equal(a, b)
        for a, b in zip(got, expected, strict=True)
    )


def _threaded(with_frames: bool) -> bool:
    """4 threads run the kernels 3 times each at once: every result equals the serial one."""

    def work(seed: int) -> tuple:
        return _work(seed) if with_frames else _lif(*_inputs(seed))

    expected = [work(i) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(lambda i=i: [work(i) for _ in range(3)]) for i in range(4)]
        results = [f.result(timeout=120) for f in futures]
    return all(_same(r, expected[i]) for i, runs in enumerate(results) for r in runs)


def _probe(env_layer: str | None, with_frames: bool) -> list[str]:
    """(layer, whether `_threaded` held) in a fresh interpreter: a layer that is not
    thread-safe aborts the whole process, which must fail one test, not end the run."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    if env_layer is not None:
        env["NUMBA_THREADING_LAYER"] = env_layer
    code = (
        "import numba; from tests.test_kernels_safety import _threaded; "
        f"ok = _threaded({with_frames}); print(numba.threading_layer(), ok)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-2:]


def test_threads_call_kernels_concurrently():
    """The default layer: LIF forward and backward and the frame kernel from 4 threads."""
    _, same = _probe(None, with_frames=True)
    assert same == "True"


def _have_tbb() -> bool:
    try:
        metadata.distribution("tbb")
        return True
    except metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif("NUMBA_THREADING_LAYER" in os.environ, reason="the user chose a layer")
def test_default_layer_is_fork_safe():
    """Unless the user picks one, the layer is tbb (found in its wheel's <prefix>/lib, off the
    loader's path in a virtual environment), else workqueue on Linux; never GNU OpenMP."""
    _work(0)  # the layer is fixed at the first parallel launch
    layer = numba.threading_layer()
    if _have_tbb():
        assert layer == "tbb"
    elif sys.platform == "linux":
        assert layer == "workqueue"


def test_user_layer_is_kept_and_workqueue_is_locked():
    """An explicit NUMBA_THREADING_LAYER wins; on workqueue (not thread-safe: it aborts the
    process on concurrent launches) the kernels serialise their launches."""
    # the LIF and frame kernels run here; they (and the voxel grid) take `launch_lock` there
    assert _probe("workqueue", with_frames=True) == ["workqueue", "True"]
