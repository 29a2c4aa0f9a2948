"""The event-camera simulator (the NDigits dataset built on it: test_ndigits.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import spikestream as ss
from spikestream.sim import CameraConfig, saccade_events, simulate


def test_brightness_step_gives_expected_events_per_pixel():
    config = CameraConfig(threshold_on=0.2, threshold_off=0.3, log_eps=1e-3)
    up = np.stack([np.full((3, 4), 0.2), np.full((3, 4), 0.8)])
    ev = simulate(up, [0, 1000], config)
    delta = math.log(0.801) - math.log(0.201)
    per_pixel = math.floor(delta / 0.2 + 1e-12)
    assert per_pixel == 6
    assert len(ev) == 12 * per_pixel and np.all(ev["p"] == 1)
    counts = np.bincount(ev["y"].astype(int) * 4 + ev["x"], minlength=12)
    assert counts.tolist() == [per_pixel] * 12
    # crossing k at fraction k*C/delta of the interval (times interpolated between frames)
    one = np.sort(ev["t"][(ev["x"] == 0) & (ev["y"] == 0)])
    assert one.tolist() == [math.floor(k * 0.2 / delta * 1000) for k in range(1, per_pixel + 1)]
    down = simulate(up[::-1].copy(), [0, 1000], config)
    assert len(down) == 12 * math.floor(delta / 0.3) and np.all(down["p"] == 0)


def test_still_scene_gives_only_noise_at_the_configured_rate():
    frames = np.full((11, 10, 10), 0.5)
    times = np.arange(11) * 100_000  # 1 s
    assert len(simulate(frames, times)) == 0
    noisy = simulate(frames, times, CameraConfig(shot_noise_hz=50.0, leak_hz=20.0), seed=3)
    expected = (50 + 20) * 100 * 1.0
    assert abs(len(noisy) - expected) < 4 * math.sqrt(expected)
    on_fraction = noisy["p"].mean()  # leak is all ON, shot noise half ON
    assert abs(on_fraction - (20 + 25) / 70) < 0.05
    assert np.all(np.diff(noisy["t"]) >= 0) and noisy["t"].max() < 1_000_000


def test_refractory_period_holds():
    ramp = np.exp(np.linspace(0, 6, 61))[:, None, None] * np.ones((1, 2, 2)) * 0.01
    times = np.arange(61) * 1000
    free = simulate(ramp, times, CameraConfig(threshold_on=0.05))
    blind = simulate(ramp, times, CameraConfig(threshold_on=0.05, refractory_us=5000))
    assert len(blind) < len(free)
    for x in range(2):
        for y in range(2):
            t = blind["t"][(blind["x"] == x) & (blind["y"] == y)]
            assert np.diff(t).min() >= 5000


def test_same_seed_same_output():
    rng = np.random.default_rng(0)
    video = rng.random((20, 8, 8))
    config = CameraConfig(mismatch=0.1, shot_noise_hz=10)
    a = simulate(video, np.arange(20) * 1000, config, seed=5)
    b = simulate(video, np.arange(20) * 1000, config, seed=5)
    c = simulate(video, np.arange(20) * 1000, config, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_input():
    with pytest.raises(ss.ValidationError, match="increase"):
        simulate(np.ones((2, 2, 2)), [5, 5])
    with pytest.raises(ss.ValidationError, match=">= 0"):
        simulate(-np.ones((2, 2, 2)), [0, 1])
    with pytest.raises(ss.ConfigError):
        CameraConfig(threshold_on=0)


def test_saccades_sweep_edges():
    image = np.zeros((10, 10))
    image[3:7, 3:7] = 1.0
    ev = saccade_events(image, (16, 16), CameraConfig(threshold_on=0.3, threshold_off=0.3))
    assert len(ev) > 100 and ev["x"].max() < 16 and ev["y"].max() < 16
    assert 0 <= ev["t"].min() and ev["t"].max() <= 300_000
    assert 0.3 < ev["p"].mean() < 0.7  # edges both brighten and darken pixels
    with pytest.raises(ss.ConfigError, match="does not fit"):
        saccade_events(image, (11, 11), amplitude=3)


# ------------------------------------------------------------------- absurd configurations


def test_absurd_noise_rates_are_refused_up_front():
    with pytest.raises(ss.ConfigError, match=r"shot_noise_hz = 1e\+12 Hz .* limit of 1e\+06"):
        CameraConfig(shot_noise_hz=1e12)  # the CLI's --shot-noise-hz 1e12
    with pytest.raises(ss.ConfigError, match="leak_hz = nan must be a finite"):
        CameraConfig(leak_hz=float("nan"))
    with pytest.raises(ss.ConfigError, match="threshold_on = inf"):
        CameraConfig(threshold_on=float("inf"))
    with pytest.raises(ss.ConfigError, match=r"refractory_us = 1e\+30 is above 2\^62"):
        CameraConfig(refractory_us=1e30)  # type: ignore[arg-type]
    with pytest.raises(ss.ValidationError, match="frame times must be finite"):
        simulate(np.ones((2, 2, 2)), [float("nan"), 1000.0])
    # legal per pixel, but 1e6 Hz on 1000x1000 pixels for 10 s is 1e13 events
    frames = np.broadcast_to(np.float32(0.5), (2, 1000, 1000))
    with pytest.raises(ss.ConfigError, match=r"about 1e\+13 events, which would .* 8 GiB"):
        simulate(frames, [0, 10_000_000], CameraConfig(shot_noise_hz=1e6))


def test_thresholds_allowing_too_many_crossings_are_refused_before_simulating():
    step = np.stack([np.full((100, 100), 0.001), np.full((100, 100), 1000.0)])
    # log(1000.001) - log(0.002) = 13.12 per pixel: 1.31e8 crossings each at threshold 1e-7
    with pytest.raises(ss.ConfigError, match=r"up to 1\.31e\+12 threshold crossings"):
        simulate(step, [0, 1000], CameraConfig(threshold_on=1e-7, threshold_off=1e-7))
    # the bound, ceil(13.12 / 0.2) = 66 per pixel, holds what is emitted: floor(65.6)
    ev = simulate(step[:, :2, :2], [0, 1000], CameraConfig())
    assert len(ev) == 4 * 65


def test_absurd_frame_sizes_are_refused_before_reading_the_frames():
    wide = np.broadcast_to(np.float32(0.5), (2, 1, 70_000))  # no memory behind it
    with pytest.raises(ss.ConfigError, match=r"70000x1 must be \(W, H\) with 1 <= W, H <= 65536"):
        simulate(wide, [0, 1000])
    long = np.broadcast_to(np.float32(0.5), (3000, 1000, 1000))
    with pytest.raises(ss.ConfigError, match=r"3000 frames of 1000x1000 pixels .* 8 GiB"):
        simulate(long, np.arange(3000) * 1000)
    image = np.ones((10, 10))
    with pytest.raises(ss.ConfigError, match="1 <= W, H <= 65536"):
        saccade_events(image, (1_000_000, 1_000_000))
    with pytest.raises(ss.ConfigError, match=r"301 frames of 10000x10000 pixels"):
        saccade_events(image, (10_000, 10_000))
    with pytest.raises(ss.ConfigError, match=r"step_us \(0\) must be >= 1"):
        saccade_events(image, (16, 16), step_us=0)
    with pytest.raises(ss.ConfigError, match="amplitude must be a finite"):
        saccade_events(image, (16, 16), amplitude=float("nan"))


def test_the_simulator_does_not_import_the_dataset_layer():
    """Layers go one way: datasets may use sim (NDigits), never the reverse."""
    import subprocess
    import sys

    code = (
        "import sys, spikestream.sim, spikestream.sim.digits; "
        "print(sorted(m for m in sys.modules if m.startswith('spikestream.datasets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_simulator_bounds_its_arrays_with_the_shared_limit(monkeypatch):
    """One allocation bound (`limits.check_size` / `MAX_BYTES`) for the simulator's float64
    frames and its events, as for every transform."""
    from spikestream.events import limits
    from spikestream.sim import camera

    assert not hasattr(camera, "MAX_FRAME_SAMPLES") and not hasattr(camera, "MAX_EVENTS")
    step = np.stack([np.full((4, 4), 0.001), np.full((4, 4), 1000.0)])
    assert len(simulate(step, [0, 1000])) == 16 * 65  # 16 pixels, 65 crossings each
    monkeypatch.setattr(limits, "MAX_BYTES", 2 * 4 * 4 * 8)  # the float64 frames, exactly
    with pytest.raises(ss.ConfigError, match=r"whose events would be a 16-byte record array"):
        simulate(step, [0, 1000])  # up to 16 * 66 events of 16 bytes
    with pytest.raises(ss.ConfigError, match=r"float64 copy of 3 frames of 4x4 pixels"):
        simulate(np.concatenate([step, step[:1]]), [0, 1000, 2000])
