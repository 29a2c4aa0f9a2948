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


def spikingjelly_dvs128_gesture() -> Any | None:
    """SpikingJelly 2.0's ``DVS128Gesture`` class (its own extraction and conversion steps).
    torchvision does not load beside this torch build, so the three torchvision helpers its
    dataset modules import are stood in for by what torchvision does: ``extract_archive`` is
    ``tarfile.extractall``; the download and integrity helpers are unused here."""
    if importlib.util.find_spec("spikingjelly") is None:
        return None
    import tarfile

    utils = types.ModuleType("torchvision.datasets.utils")

    def extract_archive(from_path, to_path=None, remove_finished=False):
        with tarfile.open(from_path) as tf:
            tf.extractall(to_path, filter="data")

    utils.extract_archive = extract_archive  # type: ignore[attr-defined]
    utils.check_integrity = lambda *a, **k: True  # type: ignore[attr-defined]
    utils.download_url = lambda *a, **k: None  # type: ignore[attr-defined]
    datasets = types.ModuleType("torchvision.datasets")
    datasets.DatasetFolder = type("DatasetFolder", (), {})  # type: ignore[attr-defined]
    datasets.utils = utils  # type: ignore[attr-defined]
    tv = types.ModuleType("torchvision")
    tv.datasets = datasets  # type: ignore[attr-defined]
    tv.transforms = types.ModuleType("torchvision.transforms")  # type: ignore[attr-defined]
    saved = {
        n: sys.modules.get(n)
        for n in ("torchvision", "torchvision.datasets", "torchvision.datasets.utils", "torchaudio")
    }
    sys.modules.update(
        {
            "torchvision": tv,
            "torchvision.datasets": datasets,
            "torchvision.datasets.utils": utils,
            "torchaudio": types.ModuleType("torchaudio"),
        }
    )
    spikingjelly_dataset_utils()  # the bare package object for spikingjelly.datasets
    try:
        module = importlib.import_module("spikingjelly.datasets.dvs128_gesture")
        return module.DVS128Gesture
    except Exception as exc:
        print(f"(spikingjelly's DVS128Gesture not loadable: {exc})")
        return None
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
