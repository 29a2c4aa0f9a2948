"""CLI subcommands (see `spikestream.cli`), plus the argument checks they share: each turns a bad
value into a one-line `ConfigError` before any work starts, so no command fails half-way on
something it could have seen at the start."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ConfigError
from ..events import limits
from ..files import write_target


def input_path(path: str, *, folder_ok: bool = False) -> Path:
    """``path`` as an existing file (or folder, when ``folder_ok``)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{path}: no such file or folder")
    if p.is_dir() and not folder_ok:
        raise ConfigError(f"{path} is a folder; give an event file")
    return p


def output_file(path: str) -> Path:
    """``path`` as a file that can be created: not a folder nor another special file (a FIFO,
    a device), in a folder that exists (a symbolic link is written through)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name inside it (e.g. {p / 'out'}.EXT)")
    parent = write_target(p).parent
    if not parent.is_dir():
        raise ConfigError(f"{path}: the folder {parent} does not exist; create it first")
    return p


def _whole_number(text: str, low: int) -> int:
    message = f"expected a whole number >= {low}, got {text!r}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    if value < low:
        raise argparse.ArgumentTypeError(message)
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _whole_number(text, 0)


def port_number(text: str) -> int:
    """argparse type: a TCP/UDP port, 0..65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535 (0: any free port), got {text!r}")
    return value


def _finite_number(text: str, zero_ok: bool) -> float:
    bound = ">= 0" if zero_ok else "> 0"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}") from None
    above = value >= 0 if zero_ok else value > 0  # False for NaN
    if not (above and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _finite_number(text, zero_ok=False)


def sensor_size(text: str) -> tuple[int, int]:
    """argparse type: ``WxH`` (e.g. ``640x480``) by the one sensor-size rule
    (`spikestream.events.limits.sensor_dims`: 1..65536 a side)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sensor size must look like 640x480, got {text!r}"
        ) from None
    try:
        return limits.sensor_dims((w, h), what=f"sensor size {text!r}")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _finite_number(text, zero_ok=True)


@contextlib.contextmanager
def ctrl_c_stops(on_interrupt: Callable[[], None] | None = None) -> Iterator[threading.Event]:
    """Within the block the first Ctrl-C sets the yielded event (and calls ``on_interrupt``)
    instead of raising; the next one aborts as usual. The handler is installed explicitly:
    Python raises no KeyboardInterrupt when SIGINT was ignored at startup (a background job of
    a non-interactive shell), and one raised inside ``Thread.join`` leaves the thread looking
    finished while it still runs. Outside the main thread (library use) nothing is installed
    and the event is never set. The handler runs in the main thread between bytecodes: poll the
    event with ``is_set()`` there, never ``wait()`` on it (its ``set()`` would block on the
    lock that ``wait()`` holds), and ``on_interrupt`` must not take a non-reentrant lock the
    main thread may hold."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_sigint(signum: int, frame: object) -> None:
        interrupted.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the next one aborts
        if on_interrupt is not None:
            on_interrupt()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
