"""The checkpoint contract: one file layout for a trained model, written by the Lightning
training layer (``spikestream fit``) and by `save_model`, read by `load_model` (the live engine,
export, viz) without Lightning.

A checkpoint is a ``torch.save`` dict holding at least::

    {
        "spikestream": {
            "version": 1,
            "model": "<registered model name>",      # spikestream.models.create(model, ...)
            "model_args": {...},                      # create()'s overrides (plain data)
            "classes": ["name of class 0", ...],
            "input": {...},                           # what the model eats: see below
        },
        "state_dict": {"model.<parameter>": tensor, ...},
    }

A Lightning ``.ckpt`` has the same two keys next to Lightning's own (``optimizer_states``,
``loops``, ...), which `load_model` ignores; entries of ``state_dict`` outside the ``model.``
prefix (metrics, losses) are ignored too. Everything is tensors and plain Python values, so
the file loads with ``torch.load(weights_only=True)``.

``input`` says how training binned the events, so live inference can bin exactly the same way.
Frame models (``kind: "frames"``, tensors ``[N, T, C, H, W]``)::

    kind          "frames"
    sensor_size   [W, H] of the recordings trained on
    channels      C (2: OFF, ON)
    height, width H, W of the model's input (after crop and pooling)
    steps         T, frames per sample (null: variable, padded per batch)
    split_by      "number" | "time" (with frames_number) or "duration" (fixed bins)
    frames_number T when split_by is "number" or "time", else null
    duration_us   the bin width when split_by is "duration", else null
    step_us       mean training bin duration in µs (what a live engine bins by), or null
    crop          null or [x0, y0, w, h] in sensor pixels, applied before pooling
    pool          integer sum-pooling factor applied after the crop (1: none)
    events_per_frame  mean events per frame of the training set when split_by is "number"
                  (what a live engine bins by count), else null

Event-token models (``kind: "tokens"``: Event2Vec, ``x, y, t, p, valid_mask [N, L]``)::

    kind          "tokens"
    sensor_size   [W, H] of the recordings trained on
    num_events    tokens per sample (events sampled down to this many)
    sampler       "random" | "uniform" | "chunk" | "deterministic_uniform" (training's)
    grid          null or [w, h]: coordinates rescaled onto this grid before the model
    norm_t        "sample" | "dataset" | "none" (time normalisation)
    t_scale       the dataset-wise divisor in µs when norm_t is "dataset", else null
    crop          null or [x0, y0, w, h] in sensor pixels; token coordinates are in the box
    pool          integer pooling factor after the crop (coordinates // pool; 1: none)
    window_us     mean duration of a training sample in µs (the window tokens come from)

`input_record` and `check_input` build and check these dicts; `ModelRecord.from_dict` checks
every record it reads (an empty ``input``, a model saved without one, is allowed). Keys added
after version 1 (``events_per_frame``; the tokens' ``crop``, ``pool``, ``window_us``) read as
their defaults from older files. Other keys may be added (readers ignore what they do not
know).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, FormatError, MissingFileError
from ..files import atomic_file
from ..transforms.functional.tokens import NORM_T, SAMPLERS
from .registry import create

__all__ = [
    "FORMAT_VERSION",
    "PREFIX",
    "ModelRecord",
    "check_input",
    "frames_input",
    "input_record",
    "load_model",
    "read_record",
    "recording_stats",
    "save_model",
]

#: Version of the ``ckpt["spikestream"]`` record this module writes and reads.
FORMAT_VERSION = 1
#: Prefix of the model's weights in ``ckpt["state_dict"]`` (the LightningModule's attribute).
PREFIX = "model."

INPUT_KINDS = {
    "frames": (
        "sensor_size", "channels", "height", "width", "steps", "split_by", "frames_number",
        "duration_us", "step_us", "crop", "pool", "events_per_frame",
    ),
    "tokens": (
        "sensor_size", "num_events", "sampler", "grid", "norm_t", "t_scale", "crop", "pool",
        "window_us",
    ),
}  # fmt: skip
#: Defaults of keys added within version 1 (files written before them read as these).
ADDED_KEYS: dict[str, dict[str, Any]] = {
    "frames": {"events_per_frame": None},
    "tokens": {"crop": None, "pool": 1, "window_us": None},
}


@dataclass(frozen=True)
class ModelRecord:
    """What a checkpoint says about its model: the registry ``name`` and ``model_args``
    (``spikestream.models.create(name, **model_args)`` rebuilds it), the ``classes`` in label
    order, and the ``input`` dict (see the module docstring)."""

    name: str
    model_args: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    input: dict[str, Any] = field(default_factory=dict)

    def frame_shape(self) -> tuple[int, int, int] | None:
        """``(channels, height, width)`` of one input frame; None for a model without one (a
        token model)."""
        h, w = self.input.get("height"), self.input.get("width")
        if not (h and w):
            return None
        return int(self.input.get("channels") or 2), int(h), int(w)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "model": self.name,
            "model_args": _plain(dict(self.model_args), "model_args"),
            "classes": [str(c) for c in self.classes],
            "input": _plain(dict(self.input), "input"),
        }

    @classmethod
    def from_dict(cls, record: Any, where: str = "checkpoint") -> ModelRecord:
        """The record of ``ckpt["spikestream"]``; `FormatError` naming ``where`` if malformed."""
        if not isinstance(record, dict):
            raise FormatError(f"'spikestream' entry is {type(record).__name__}, not a dict",
                              path=where)  # fmt: skip
        version = record.get("version")
        if version != FORMAT_VERSION:
            raise FormatError(
                f"checkpoint record version {version!r}; this spikestream reads version "
                f"{FORMAT_VERSION} (upgrade spikestream, or re-save the model with save_model)",
                path=where,
            )
        name, args = record.get("model"), record.get("model_args", {})
        classes, inp = record.get("classes", []), record.get("input", {})
        if not isinstance(name, str) or not isinstance(args, dict):
            raise FormatError("record needs 'model' (a registered name) and 'model_args' (a "
                              "dict)", path=where)  # fmt: skip
        if not isinstance(classes, list) or not isinstance(inp, dict):
            raise FormatError("record's 'classes' must be a list, 'input' a dict", path=where)
        inp = dict(inp)
        if inp:
            for key, value in ADDED_KEYS.get(inp.get("kind"), {}).items():  # type: ignore[arg-type]
                inp.setdefault(key, value)
            try:
                check_input(inp)
            except ConfigError as exc:
                raise FormatError(f"bad input record: {exc}", path=where) from None
        return cls(name, dict(args), [str(c) for c in classes], inp)


def _plain(value: Any, where: str) -> Any:
    """``value`` with tuples as lists, checked to hold only what ``weights_only`` loads back
    and JSON can show (dicts with str keys, lists, str, int, float, bool, None)."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{where}: keys must be strings, got {list(value)}")
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise ConfigError(
        f"{where}: {type(value).__name__} is not plain data (use numbers, strings, lists, dicts)"
    )


def input_record(kind: str, **values: Any) -> dict[str, Any]:
    """An ``input`` dict of ``kind`` ('frames' or 'tokens'): every documented key, missing ones
    None (``pool`` 1, ``channels`` 2), checked by `check_input`."""
    if kind not in INPUT_KINDS:
        raise ConfigError(f"input kind must be one of {sorted(INPUT_KINDS)}, got {kind!r}")
    out: dict[str, Any] = dict.fromkeys(INPUT_KINDS[kind])
    out["pool"] = 1
    if kind == "frames":
        out["channels"] = 2
    out.update(values)
    out = {"kind": kind, **_plain(out, "input")}
    check_input(out)
    return out


def recording_stats(
    t: np.ndarray, offsets: np.ndarray, indices: np.ndarray
) -> tuple[float | None, float | None]:
    """Mean duration in µs (last event's time minus the first's; empty recordings left out)
    and mean event count of recordings ``indices`` of a packed store (event times ``t``,
    ``offsets``): the training set's figures `frames_input` and token records keep."""
    idx = np.asarray(indices, dtype=np.int64)
    counts = np.diff(offsets)[idx]
    full = idx[counts > 0]
    spans = t[offsets[full + 1] - 1].astype(np.float64) - t[offsets[full]].astype(np.float64)
    mean_span = float(spans.mean()) if len(spans) else None
    return mean_span, float(counts.mean()) if len(counts) else None


def frames_input(
    sensor_size: Sequence[int],
    *,
    frames_number: int | None = None,
    split_by: str = "number",
    duration_us: int | None = None,
    crop: Sequence[int] | None = None,
    pool: int = 1,
    mean_duration_us: float | None = None,
    mean_events: float | None = None,
) -> dict[str, Any]:
    """The ``input`` record of frames binned from ``sensor_size`` recordings (after ``crop``
    and ``pool``): ``frames_number`` frames split by 'number' or 'time', or fixed bins of
    ``duration_us``. ``mean_duration_us`` / ``mean_events`` (`recording_stats` of the training
    set) give ``step_us`` and, split by number, ``events_per_frame``."""
    from ..transforms.functional.geometry import input_size

    w, h = input_size(sensor_size, crop, pool)
    n = frames_number
    if duration_us:
        step_us: float | None = float(duration_us)
        split_by, per_frame = "duration", None
    else:
        step_us = None if mean_duration_us is None or not n else mean_duration_us / n
        by_count = split_by == "number" and mean_events is not None and n
        per_frame = mean_events / n if by_count else None  # type: ignore[operator]
    return input_record(
        "frames", sensor_size=[int(v) for v in sensor_size], channels=2, height=h, width=w,
        steps=n, split_by=split_by, frames_number=n, duration_us=duration_us, step_us=step_us,
        crop=None if crop is None else [int(c) for c in crop], pool=int(pool),
        events_per_frame=per_frame,
    )  # fmt: skip


def check_input(inp: dict[str, Any], where: str = "input") -> None:
    """`ConfigError` naming the key if ``inp`` lacks a documented key or holds a bad value."""
    kind = inp.get("kind")
    if kind not in INPUT_KINDS:
        raise ConfigError(f"{where}.kind must be one of {sorted(INPUT_KINDS)}, got {kind!r}")
    if missing := [k for k in INPUT_KINDS[kind] if k not in inp]:
        raise ConfigError(f"{where} ({kind}) lacks {missing}")
    size = inp["sensor_size"]
    if not (isinstance(size, list) and len(size) == 2 and all(_positive_int(s) for s in size)):
        raise ConfigError(f"{where}.sensor_size must be [W, H] of positive ints, got {size!r}")
    if not _positive_int(inp["pool"]):
        raise ConfigError(f"{where}.pool must be an int >= 1, got {inp['pool']!r}")
    crop = inp["crop"]
    if crop is not None and not (isinstance(crop, list) and len(crop) == 4
                                 and all(isinstance(c, int) for c in crop)):  # fmt: skip
        raise ConfigError(f"{where}.crop must be null or [x0, y0, w, h], got {crop!r}")
    if kind == "frames":
        for key in ("height", "width", "channels"):
            if not _positive_int(inp[key]):
                raise ConfigError(f"{where}.{key} must be a positive int, got {inp[key]!r}")
        split = inp["split_by"]
        if split not in ("number", "time", "duration", None):
            raise ConfigError(f"{where}.split_by must be 'number', 'time' or 'duration', "
                              f"got {split!r}")  # fmt: skip
        if split == "duration" and not _positive(inp["duration_us"]):
            raise ConfigError(f"{where}.duration_us must be > 0 when split_by is 'duration', "
                              f"got {inp['duration_us']!r}")  # fmt: skip
        if split in ("number", "time") and not _positive_int(inp["frames_number"]):
            raise ConfigError(f"{where}.frames_number must be a positive int when split_by is "
                              f"{split!r}, got {inp['frames_number']!r}")  # fmt: skip
    else:
        n = inp["num_events"]
        if not _positive_int(n):
            raise ConfigError(f"{where}.num_events must be an int >= 1, got {n!r}")
        if inp["sampler"] not in SAMPLERS:
            raise ConfigError(f"{where}.sampler must be one of {SAMPLERS}, "
                              f"got {inp['sampler']!r}")  # fmt: skip
        if inp["norm_t"] not in NORM_T:
            raise ConfigError(f"{where}.norm_t must be one of {NORM_T}, got {inp['norm_t']!r}")
        if inp["norm_t"] == "dataset" and not _positive(inp["t_scale"]):
            raise ConfigError(f"{where}.t_scale must be > 0 (µs) when norm_t is 'dataset', got "
                              f"{inp['t_scale']!r}")  # fmt: skip


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def save_model(path: str | os.PathLike[str], model: nn.Module, record: ModelRecord) -> None:
    """Write ``model``'s weights and ``record`` as a checkpoint (the layout above, no Lightning
    entries), atomically: a reader never sees a half-written file."""
    body = {
        "spikestream": record.to_dict(),
        "state_dict": {PREFIX + k: v.detach().cpu() for k, v in _weights(model).items()},
    }
    with atomic_file(path) as out:
        torch.save(body, out)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    # torch.compile wraps the model: its keys carry "_orig_mod."; store the plain names
    inner = getattr(model, "_orig_mod", model)
    return dict(inner.state_dict())


def _read(path: str | os.PathLike[str], map_location: Any) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise MissingFileError(p)
    if p.is_dir():
        raise FormatError("is a folder, not a checkpoint file (give the .ckpt file, e.g. "
                          "RUN/checkpoints/last.ckpt)", path=p)  # fmt: skip
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except PermissionError:
        raise
    except Exception as exc:
        # hostile or truncated bytes surface as almost any exception from the unpickler
        # (UnpicklingError, EOFError, KeyError, IndexError, ...; a truncated zip as OSError)
        reason = " ".join(str(exc).split())[:300]
        raise FormatError(
            f"not a readable torch checkpoint (truncated, or holding more than weights and plain "
            f"data): {reason}; re-save it with spikestream.models.checkpoint.save_model",
            path=p,
        ) from None
    if (
        isinstance(ckpt, dict)
        and "spikestream" not in ckpt
        and {"model", "state_dict"} <= set(ckpt)
    ):
        raise FormatError(
            "an old export dict ({'model', 'config', 'state_dict'}, no 'spikestream' record); "
            "convert it once: d = torch.load(PATH); m = models.create(d['model'], "
            "**(d.get('config') or {})); m.load_state_dict(d['state_dict']); "
            "save_model(NEW_PATH, m, ModelRecord(d['model'], d.get('config') or {}))",
            path=p,
        )
    if not isinstance(ckpt, dict) or "spikestream" not in ckpt or "state_dict" not in ckpt:
        keys = sorted(map(str, ckpt))[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise FormatError(
            f"not a spikestream checkpoint (no 'spikestream' record and 'state_dict'; found "
            f"{keys}); train with `spikestream fit` or save with "
            f"spikestream.models.checkpoint.save_model",
            path=p,
        )
    return ckpt


def read_record(path: str | os.PathLike[str]) -> ModelRecord:
    """The checkpoint's `ModelRecord` (weights loaded but not applied)."""
    return ModelRecord.from_dict(_read(path, "cpu")["spikestream"], str(path))


def load_model(
    path: str | os.PathLike[str], map_location: Any = "cpu"
) -> tuple[nn.Module, ModelRecord]:
    """Rebuild the checkpoint's model from the registry, load its weights strictly and return
    it in eval mode with its record. `MissingFileError`/`FormatError` for a missing, truncated
    or foreign file, `ConfigError` (naming the file) for an unknown model or weights that do
    not fit it."""
    ckpt = _read(path, map_location)
    record = ModelRecord.from_dict(ckpt["spikestream"], str(path))
    try:
        model = create(record.name, **record.model_args)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    state = ckpt["state_dict"]
    if not isinstance(state, dict):
        raise FormatError("'state_dict' is not a dict", path=str(path))
    weights = {
        k[len(PREFIX) :].replace("_orig_mod.", "", 1): v
        for k, v in state.items()
        if k.startswith(PREFIX)
    }
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        message = " ".join(str(exc).split())[:400]
        raise ConfigError(
            f"{path}: the weights do not fit model {record.name!r} with model_args "
            f"{record.model_args}: {message}"
        ) from None
    model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu")
    return model.eval(), record
