"""Cameras behind the source interface: iniVation cameras through dv-processing (``dv:[SERIAL]``,
extra ``spikestream[dv]``) and Prophesee cameras through OpenEB/Metavision
(``metavision:[SERIAL]``; OpenEB or the Metavision SDK, with its Python bindings, is installed
separately: it is not on PyPI). Both SDKs are imported only when such a source opens; any
failure of theirs to find or open a camera is a one-line `StreamError`.

`DvCameraSource` wraps anything with dv-processing's reader methods (``getNextEventBatch``,
``getEventResolution``, ``isRunning``): a live camera (``dv.io.camera.open``), a
``dv.io.MonoCameraRecording`` (how it is tested without a camera) or a ``NetworkReader``.
`MetavisionSource` wraps an iterable of Metavision ``EventCD`` arrays (``x, y, p, t``), by default
``metavision_core.event_io.EventsIterator`` on the camera.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import ConfigError, StreamError
from ..events import make_events
from .sources import BaseSource, EventChunk

# dv-processing's readers have no blocking read (getNextEventBatch returns None until a packet
# is ready): poll, backing off from the first to the longest sleep while idle.
_IDLE_SLEEP_S = 0.0005
_MAX_IDLE_SLEEP_S = 0.004


class DvCameraSource(BaseSource):
    """Events from a dv-processing camera or reader (see the module docstring)."""

    def __init__(
        self,
        reader: Any,
        *,
        sensor_size: tuple[int, int] | None = None,
        timeout_s: float | None = None,
        name: str = "dv",
    ) -> None:
        size = sensor_size
        if size is None:
            res = reader.getEventResolution()
            size = (int(res[0]), int(res[1])) if res is not None else None
        super().__init__(size)
        self.reader = reader
        self.name = name
        self.timeout_s = timeout_s

    def _release(self) -> None:
        self.reader = None  # dv-processing closes the device when the object is freed

    def __iter__(self) -> Iterator[EventChunk]:
        idle_since = time.monotonic()
        sleep = _IDLE_SLEEP_S
        while not self._stop.is_set():
            reader = self.reader
            if reader is None:
                return
            batch = reader.getNextEventBatch()
            if batch is None:
                if not reader.isRunning():
                    return  # camera unplugged or recording ended
                if self.timeout_s is not None and time.monotonic() - idle_since > self.timeout_s:
                    raise StreamError(f"{self.name}: no events for {self.timeout_s} s")
                self._stop.wait(sleep)
                sleep = min(2 * sleep, _MAX_IDLE_SLEEP_S)
                continue
            idle_since = time.monotonic()
            sleep = _IDLE_SLEEP_S
            arrival = time.monotonic_ns()
            raw = batch.numpy()
            if not len(raw):
                continue
            events = make_events(raw["timestamp"], raw["x"], raw["y"], raw["polarity"])
            self.stats["bytes"] += raw.nbytes
            yield self._chunk(events, arrival)


class MetavisionSource(BaseSource):
    """Events from an iterable of Metavision ``EventCD`` slices (fields ``x, y, p, t``).

    ``timeout_s``: a `StreamError` once the slices (``EventsIterator`` yields one per
    ``delta_t``, empty while the camera is idle) carried no event for that long."""

    def __init__(
        self,
        slices: Iterable[np.ndarray],
        *,
        sensor_size: tuple[int, int] | None,
        timeout_s: float | None = None,
        name: str = "metavision",
    ) -> None:
        super().__init__(sensor_size)
        self.slices = slices
        self.timeout_s = timeout_s
        self.name = name

    def _release(self) -> None:
        close = getattr(self.slices, "close", None)
        if close is not None:
            try:
                close()
            except (RuntimeError, ValueError):
                pass  # the iterator is running in another thread: it ends at its next slice

    def __iter__(self) -> Iterator[EventChunk]:
        idle_since = time.monotonic()
        for raw in self.slices:
            if self._stop.is_set():
                return
            arrival = time.monotonic_ns()
            if not len(raw):
                if self.timeout_s is not None and time.monotonic() - idle_since > self.timeout_s:
                    raise StreamError(f"{self.name}: no events for {self.timeout_s} s")
                continue
            idle_since = time.monotonic()
            events = make_events(raw["t"], raw["x"], raw["y"], raw["p"])
            self.stats["bytes"] += raw.nbytes
            yield self._chunk(events, arrival)


# Where to turn when no camera can be opened (what the message ends with).
_OTHER_SOURCES = "or use --source file:REC, tcp://HOST:PORT or udp://:PORT"


def _reason(exc: BaseException) -> str:
    """One short line of an SDK's error: dv-processing's RuntimeErrors carry the C++ file and
    a stack trace, their cause on the line ``RuntimeError: ...``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        head, sep, rest = line.partition("Error: ")
        if sep and head.isidentifier() and rest:
            return rest[:200]
    return (lines[0][:200] if lines else "") or type(exc).__name__


def _dv_cameras(dv: Any) -> list[str] | None:
    """The connected iniVation cameras as ``SERIAL (MODEL)``; None when discovery fails."""
    try:
        found = list(dv.io.camera.discover())
    except Exception:  # only for the message: the open's error is the one raised
        return None
    out = []
    for d in found:
        model = getattr(getattr(d, "cameraModel", None), "name", None)
        serial = str(getattr(d, "serialNumber", "?"))
        out.append(f"{serial} ({model})" if model else serial)
    return out


def _dv_open_error(spec: str, name: str, exc: BaseException, dv: Any) -> StreamError:
    found = _dv_cameras(dv)
    if found == []:
        asked = f" (asked for {name!r})" if name else ""
        why = (
            f"no iniVation camera found{asked}: dv-processing discovers none (is one plugged in, "
            f"and may this user open its USB device?); connect one, {_OTHER_SOURCES}"
        )
    else:
        what = f"camera {name!r}" if name else "the first camera"
        listed = "unknown (discovery failed)" if found is None else ", ".join(found)
        why = f"{what}: {_reason(exc)}; connected: {listed}; use dv:SERIAL, {_OTHER_SOURCES}"
    return StreamError(f"{spec}: cannot open the camera: {why}")


def _metavision_missing(spec: str, exc: ImportError) -> ConfigError:
    return ConfigError(
        f"{spec}: this source needs OpenEB's Python bindings (import metavision_core.event_io "
        f"failed: {_reason(exc)}); install OpenEB (github.com/prophesee-ai/openeb) or the "
        "Metavision SDK with its Python bindings, separately (not a pip extra), and put them on "
        "PYTHONPATH"
    )


def open_camera(
    spec: str,
    *,
    sensor_size: tuple[int, int] | None = None,
    timeout_s: float | None = None,
    delta_t_us: int = 1000,
) -> BaseSource:
    """``dv:[SERIAL]`` (dv-processing; the first camera when empty) or
    ``metavision:[SERIAL]`` (OpenEB; the first camera when empty). A camera that cannot be
    found or opened is a `StreamError` (the SDK's error chained); a missing SDK a
    `ConfigError`."""
    kind, _, name = spec.partition(":")
    if kind == "dv":
        try:
            import dv_processing as dv
        except ImportError:
            raise ConfigError(
                f"{spec}: this source needs the dv-processing package: "
                "pip install 'spikestream[dv]'"
            ) from None
        try:
            camera = dv.io.camera.open(name) if name else dv.io.camera.open()
            if not camera.isEventStreamAvailable():
                raise StreamError(f"{spec}: the camera has no event stream")
            return DvCameraSource(camera, sensor_size=sensor_size, timeout_s=timeout_s, name=spec)
        except StreamError:
            raise
        # dv-processing 2.0.4 without a camera: IndexError (vector::_M_range_check); an
        # unknown serial: RuntimeError; whatever the next version raises is caught the same
        except Exception as exc:
            raise _dv_open_error(spec, name, exc, dv) from exc
    if kind == "metavision":
        try:
            from metavision_core.event_io import EventsIterator
        except ImportError as exc:
            raise _metavision_missing(spec, exc) from None
        try:
            it = EventsIterator(input_path=name, mode="delta_t", delta_t=delta_t_us)
            size = sensor_size
            if size is None:
                height, width = it.get_size()
                size = (int(width), int(height))
        except Exception as exc:  # OpenEB's errors are not one documented type
            what = f"camera {name!r}" if name else "the first camera"
            raise StreamError(
                f"{spec}: cannot open the camera: {what}: {_reason(exc)}; check it is plugged "
                f"in (metavision_platform_info lists the cameras OpenEB sees), {_OTHER_SOURCES}"
            ) from exc
        return MetavisionSource(it, sensor_size=size, timeout_s=timeout_s, name=spec)
    raise ConfigError(f"{spec!r}: unknown camera kind; use dv:[CAMERA] or metavision:[SERIAL]")


__all__ = ["DvCameraSource", "MetavisionSource", "open_camera"]
