"""Loading peer libraries for benchmarks, in the same process as ours."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from typing import Any


def spikingjelly_dataset_utils() -> Any | None:
    """``spikingjelly.datasets.utils`` without running the package ``__init__`` (which imports
    torchaudio and torchvision; neither is needed by the event-to-frame functions, and PyPI's
    torchvision does not load beside this torch build): those two are stubbed for the load."""
    spec = importlib.util.find_spec("spikingjelly")
    if spec is None or spec.origin is None:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "utils.py")
    stubs = {}
    for name in ("torchvision", "torchvision.transforms", "torchaudio"):
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:
                stubs[name] = sys.modules[name] = types.ModuleType(name)
    sys.modules["torchvision"].transforms = sys.modules.get("torchvision.transforms")  # type: ignore[attr-defined]
    package = "spikingjelly.datasets"
    if package not in sys.modules:  # a bare package object: its __init__ is not run
        pkg = types.ModuleType(package)
        pkg.__path__ = [os.path.dirname(path)]  # type: ignore[attr-defined]
        sys.modules[package] = pkg
    try:
        return importlib.import_module("spikingjelly.datasets.utils")
    except Exception as exc:  # a missing optional dependency of the peer
        print(f"(spikingjelly not loadable: {exc})")
        return None
    finally:
        for name in stubs:
            sys.modules.pop(name, None)


def tonic() -> Any | None:
    try:
        import tonic as module

        return module
    except Exception as exc:
        print(f"(tonic not loadable: {exc})")
        return None
