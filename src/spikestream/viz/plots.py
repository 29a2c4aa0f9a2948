"""Matplotlib pictures of a recording: an event grid (frames over time in a grid of panels,
Tonic's ``plot_event_grid`` idea) and an x-y-t scatter. Figures are drawn with the Agg backend
on a `matplotlib.figure.Figure` (no pyplot state, no window) and written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..files import atomic_file
from .render import (
    BACKGROUND,
    DEFAULT_PALETTE,
    OFF,
    ON,
    Palette,
    event_frames,
    frame_windows,
    render_frames,
)

#: Most points an x-y-t scatter draws (evenly strided over the recording beyond that).
MAX_SCATTER_POINTS = 100_000
#: Most panels of an event grid (each a matplotlib axes: hundreds take minutes to draw).
MAX_PANELS = 64


def figure(width: float, height: float) -> Any:
    """A new Agg `Figure` of ``width`` x ``height`` inches (needs matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'spikestream[viz]'") from None
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix: png, svg, pdf) atomically."""
    suffix = Path(path).suffix.lower().lstrip(".") or "png"
    with atomic_file(path) as f:
        fig.savefig(f, format=suffix, dpi=dpi)
    return Path(path)


def _rgb(color: tuple[int, int, int]) -> tuple[float, float, float]:
    return (color[0] / 255, color[1] / 255, color[2] / 255)


def event_grid(
    events: Any,
    sensor_size: tuple[int, int],
    path: str | os.PathLike[str],
    *,
    rows: int = 2,
    columns: int = 4,
    panels: int | None = None,
    split_by: str = "time",
    title: str | None = None,
    palette: Palette = DEFAULT_PALETTE,
    dpi: int = 100,
) -> Path:
    """``panels`` panels (default ``rows x columns``, at most `MAX_PANELS`) of the events cut
    into that many frames (`event_frames`: equal durations, or equal counts with
    ``split_by='number'``) in a ``rows x columns`` grid (unused places left blank), each
    titled with its time span in ms; ON/OFF in the palette's colours.

    Example:
        >>> event_grid(rec.events, rec.sensor_size, "grid.png", rows=2, columns=5)
    """
    fig = event_grid_figure(events, sensor_size, rows=rows, columns=columns, panels=panels,
                            split_by=split_by, title=title, palette=palette)  # fmt: skip
    return save_figure(fig, path, dpi)


def event_grid_figure(
    events: Any,
    sensor_size: tuple[int, int],
    *,
    rows: int = 2,
    columns: int = 4,
    panels: int | None = None,
    split_by: str = "time",
    title: str | None = None,
    palette: Palette = DEFAULT_PALETTE,
) -> Any:
    """The `event_grid` figure (a matplotlib `Figure`), not saved."""
    rows, columns = int(rows), int(columns)
    if rows < 1 or columns < 1:
        raise ConfigError(f"rows and columns must be >= 1, got {rows} x {columns}")
    n = rows * columns if panels is None else int(panels)
    if not 1 <= n <= min(rows * columns, MAX_PANELS):
        raise ConfigError(
            f"an event grid has 1..{MAX_PANELS} panels, at most rows x columns "
            f"({rows} x {columns}); got {n}"
        )
    frames = event_frames(events, sensor_size, n_frames=n, split_by=split_by)
    images = render_frames(frames, 1, palette)
    t = np.asarray(events["t"], dtype=np.int64)
    bounds = _frame_spans(t, len(frames), split_by)
    w, h = sensor_size
    panel = min(3.0, max(1.6, max(w, h) / 40))  # inches for the longer side
    fig = figure(columns * panel * w / max(w, h) + 0.2, rows * (panel * h / max(w, h) + 0.3))
    axes = fig.subplots(rows, columns, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")  # an unused place of the grid: blank
            continue
        ax.imshow(images[k], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        t0, t1 = bounds[k]
        ax.set_title(f"{t0 / 1000:.1f}-{t1 / 1000:.1f} ms", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _frame_spans(t: np.ndarray, n: int, split_by: str) -> list[tuple[int, int]]:
    """Each frame's [first, last] event time for the titles (the windows of `event_frames`)."""
    starts, stops = frame_windows(t, n_frames=n, split_by=split_by)
    spans = []
    for a, b in zip(starts, stops, strict=True):
        if b > a:
            spans.append((int(t[a]), int(t[b - 1])))
        else:  # an empty frame: shown at the time of the next event
            spans.append((int(t[min(a, len(t) - 1)]), int(t[min(a, len(t) - 1)])))
    return spans


def xyt_scatter(
    events: Any,
    sensor_size: tuple[int, int],
    path: str | os.PathLike[str],
    *,
    max_points: int = MAX_SCATTER_POINTS,
    title: str | None = None,
    palette: Palette = DEFAULT_PALETTE,
    dpi: int = 100,
) -> Path:
    """A 3-D scatter of the events: time (ms) along one axis, x and y along the others (y down,
    as on the sensor), ON and OFF in the palette's colours. Over ``max_points`` events, every
    k-th event is drawn (an even stride, so the picture keeps the recording's density)."""
    fig = xyt_figure(events, sensor_size, max_points=max_points, title=title, palette=palette)
    return save_figure(fig, path, dpi)


def xyt_figure(
    events: Any,
    sensor_size: tuple[int, int],
    *,
    max_points: int = MAX_SCATTER_POINTS,
    title: str | None = None,
    palette: Palette = DEFAULT_PALETTE,
) -> Any:
    """The `xyt_scatter` figure (a matplotlib `Figure`), not saved."""
    n = len(events)
    if n == 0:
        raise ConfigError("no events to show")
    if max_points < 1:
        raise ConfigError(f"max_points must be >= 1, got {max_points}")
    stride = max(1, -(-n // int(max_points)))
    sub = events[::stride]
    t = (np.asarray(sub["t"], np.int64) - int(events["t"][0])) / 1000.0
    x = np.asarray(sub["x"], np.float64)
    y = np.asarray(sub["y"], np.float64)
    on = np.asarray(sub["p"]) != 0
    fig = figure(7, 5)
    ax = fig.add_subplot(projection="3d")
    ax.set_facecolor(_rgb(palette.background))
    for mask, color, label in ((on, palette.on, "ON"), (~on, palette.off, "OFF")):
        ax.scatter(t[mask], x[mask], y[mask], s=1, color=_rgb(color), label=label,
                   depthshade=False, linewidths=0)  # fmt: skip
    w, h = sensor_size
    ax.set_xlabel("t (ms)")
    ax.set_ylabel("x")
    ax.set_zlabel("y")
    ax.set_ylim(0, w)
    ax.set_zlim(h, 0)  # y grows downwards on the sensor
    ax.legend(loc="upper left", markerscale=6, fontsize=8)
    shown = f" (1 in {stride} of {n:,} events)" if stride > 1 else f" ({n:,} events)"
    fig.suptitle((title or "events") + shown, fontsize=10)
    return fig


__all__ = [
    "BACKGROUND",
    "MAX_PANELS",
    "OFF",
    "ON",
    "event_grid",
    "event_grid_figure",
    "figure",
    "save_figure",
    "xyt_figure",
    "xyt_scatter",
]
