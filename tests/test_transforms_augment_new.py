"""Whole-recording translation (the quick start's augmentation): `translate`,
`random_translate` and the `RandomTranslate` transform."""

from __future__ import annotations

import numpy as np
import pytest

from spikestream.errors import ConfigError
from spikestream.events import make_events
from spikestream.transforms import RandomTranslate
from spikestream.transforms.functional import augment

# t, x, y, p on a 6x4 sensor, one event at each corner
EV = make_events([1, 2, 3, 4, 5], [0, 5, 0, 5, 2], [0, 0, 3, 3, 1], [1, 0, 1, 0, 1])


def test_translate_moves_every_event_and_drops_those_off_the_sensor():
    out = augment.translate(EV, (6, 4), (1, -1))
    # (0,0) and (5,0) leave at the top; (5,3) leaves at the right
    assert out["t"].tolist() == [3, 5]
    assert out["x"].tolist() == [1, 3] and out["y"].tolist() == [2, 0]
    assert out["p"].tolist() == [1, 1] and out.dtype == EV.dtype
    assert EV["x"].tolist() == [0, 5, 0, 5, 2]  # the input is untouched
    assert np.array_equal(augment.translate(EV, (6, 4), (0, 0)), EV)


def test_random_translate_one_shift_per_recording_within_the_limit():
    big = make_events(np.arange(200), np.full(200, 16), np.arange(200) % 32, np.zeros(200))
    shifts = set()
    for seed in range(40):
        out = augment.random_translate(big, (32, 32), (3, 1), rng=np.random.default_rng(seed))
        dx = set((out["x"].astype(int) - 16).tolist())
        assert len(dx) == 1 and -3 <= min(dx) <= 3  # one dx for the whole recording
        kept = np.isin(big["t"], out["t"])
        dy = set((out["y"].astype(int) - big["y"][kept].astype(int)).tolist())
        assert len(dy) == 1 and -1 <= min(dy) <= 1
        shifts.add((min(dx), min(dy)))
    assert len(shifts) > 10  # the draws cover the range
    again = augment.random_translate(big, (32, 32), (3, 1), rng=np.random.default_rng(7))
    same = augment.random_translate(big, (32, 32), (3, 1), rng=np.random.default_rng(7))
    assert np.array_equal(again, same)
    assert np.array_equal(augment.random_translate(big, (32, 32), 0), big)


@pytest.mark.parametrize("bad", [-1, 6, (1, 4), (1,), 1.5, "2"])
def test_random_translate_refuses_bad_limits(bad):
    with pytest.raises(ConfigError, match="max_shift"):
        augment.random_translate(EV, (6, 4), bad)


def test_random_translate_transform_is_seeded():
    a = RandomTranslate(sensor_size=(6, 4), max_shift=1, seed=3)
    b = RandomTranslate(sensor_size=(6, 4), max_shift=1, seed=3)
    first = [a(EV) for _ in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(first, [b(EV) for _ in range(5)], strict=True))
    assert len({x.tobytes() for x in first}) > 1  # successive calls draw new shifts
