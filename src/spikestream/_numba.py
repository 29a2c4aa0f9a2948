"""numba's threading layer, chosen once, before any parallel kernel runs.

numba runs ``parallel=True`` kernels on one of three layers, picked at the first parallel
launch: ``omp`` (GNU OpenMP on Linux) is thread-safe but a forked child that launches a kernel
is killed ("fork() called from a process already using GNU OpenMP"): every DataLoader worker
of a training run whose parent ran a kernel first; ``workqueue`` survives fork but kills the
process when two Python threads launch kernels at once (the live engine does); ``tbb`` is safe
under both. Measured on 2 cores: tbb equals omp on the frame and voxel kernels and within 1 % on
a Linear-LIF training step; the isolated fused LIF is 5-10 % slower, as torch's own GNU OpenMP
threads spin for a while after each torch op and take the core from tbb's worker (omp shares
torch's thread team). workqueue costs 6 % on the training step and 3x on small calls. numba's
default order already prefers tbb, but the PyPI ``tbb`` wheel puts ``libtbb.so.12`` in
``<prefix>/lib``, where the loader does not look inside a virtual environment, so numba
silently falls back to omp.

`configure` (run by ``import spikestream``) loads that library by its path, then asks numba
for its ``forksafe`` selection: tbb, else (without tbb: Linux aarch64, macOS) OpenMP where it is
fork-safe (not GNU's), else workqueue, made thread-safe by `launch_lock` around every parallel
launch. A threading layer chosen by the user (``NUMBA_THREADING_LAYER`` or
``numba.config.THREADING_LAYER``) is kept as it is. (numba re-reads its environment when a
``NUMBA_*`` variable changes before the first launch; the choice then falls back to numba's
default order, which still takes tbb first once its library is loaded.)
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading
from importlib import metadata

import numba

from .settings import numba_threading_layer

#: the layer asked for when the user did not choose one
CHOSEN = "forksafe"

_TBB_LIBS = {"linux": "libtbb.so.12", "win32": "tbb12.dll", "darwin": "libtbb.12.dylib"}
_LAUNCH = threading.Lock()
_NO_LOCK = contextlib.nullcontext()


def _load_tbb() -> bool:
    """Make ``libtbb`` loadable by name (numba opens it so), from the ``tbb`` wheel's files
    when the loader's search path does not hold it. True when it is loaded."""
    name = _TBB_LIBS.get(sys.platform)
    if name is None:
        return False
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        pass
    try:
        files = metadata.distribution("tbb").files or []
    except metadata.PackageNotFoundError:
        return False
    for f in files:
        if f.name == name:
            try:
                # loaded globally under its soname: numba's later open by name finds it
                ctypes.CDLL(str(f.locate()), mode=ctypes.RTLD_GLOBAL)
                return True
            except OSError:
                return False
    return False


def _user_chose() -> bool:
    return numba_threading_layer() is not None or (
        str(numba.config.THREADING_LAYER).lower() != "default"  # type: ignore[attr-defined]
    )


def _initialised() -> bool:
    try:
        numba.threading_layer()
        return True
    except ValueError:
        return False


def configure() -> None:
    """Choose a fork- and thread-safe threading layer (see the module's docstring), unless the
    user chose one; a no-op once a parallel kernel ran (the layer is fixed then)."""
    if _initialised():
        return
    _load_tbb()  # also when the user chose a layer: an explicit "tbb" needs it as much
    if not _user_chose():
        # numba's config module sets its attributes at run time (mypy cannot see them)
        numba.config.THREADING_LAYER = CHOSEN  # type: ignore[attr-defined]


def launch_lock() -> contextlib.AbstractContextManager:
    """Hold around a ``parallel=True`` kernel call: a lock while the layer may be workqueue
    (not thread-safe; also before the first launch, when the layer is not known yet), else
    nothing, so concurrent callers on tbb or OpenMP run side by side."""
    try:
        layer = numba.threading_layer()
    except ValueError:
        return _LAUNCH
    return _LAUNCH if layer == "workqueue" else _NO_LOCK
