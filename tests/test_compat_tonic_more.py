# ruff: noqa: NPY002 - Tonic's random transforms draw from numpy's global generator
"""``spikestream.compat.tonic.transforms``: ToImage, ToSparseTensor, DropPixel, SpatialJitter,
TimeJitter and UniformNoise (Tonic 1.7's arguments), and their core functions in
`spikestream.transforms.functional.augment`, by value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikestream.compat.tonic import transforms as T
from spikestream.errors import ConfigError
from spikestream.events import EVENT_DTYPE, TONIC_DTYPE
from spikestream.transforms.functional import augment as A

W, H = 34, 30
SENSOR = (W, H, 2)
INT_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])  # Tonic's NMNIST


def events(n=4000, dtype=TONIC_DTYPE, seed=0, t_max=1_000_000):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype)
    ev["t"] = np.sort(rng.integers(0, t_max, n))
    ev["x"], ev["y"] = rng.integers(0, W, n), rng.integers(0, H, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def counts(ev, n_pol=2):
    """[P, H, W] event counts by direct indexing (the reference for the frame transforms)."""
    out = np.zeros((n_pol, H, W), dtype=np.int64)
    p = ev["p"].astype(np.int64) if n_pol == 2 else np.zeros(len(ev), dtype=np.int64)
    np.add.at(out, (p, ev["y"].astype(np.int64), ev["x"].astype(np.int64)), 1)
    return out


@pytest.mark.parametrize("dtype", [TONIC_DTYPE, INT_DTYPE, EVENT_DTYPE])
def test_to_image_is_the_sum_of_frames(dtype):
    ev = events(dtype=dtype)
    image = T.ToImage(SENSOR)(ev)
    assert image.shape == (2, H, W) and image.dtype == np.int16
    assert np.array_equal(image, counts(ev)) and image.sum() == len(ev)
    for frames in (T.ToFrame(SENSOR, n_event_bins=8)(ev),  # 4000 events: 8 bins of 500
                   T.ToFrame(SENSOR, time_window=50_000, include_incomplete=True)(ev)):  # fmt: skip
        assert np.array_equal(image, frames.sum(0))
    merged = T.ToImage((W, H, 1))(ev)  # one polarity: every event in channel 0
    assert merged.shape == (1, H, W) and np.array_equal(merged[0], image.sum(0))
    empty = T.ToImage(SENSOR)(ev[:0])
    assert empty.shape == (2, H, W) and empty.dtype == np.int16 and not empty.any()
    with pytest.raises(ConfigError, match=r"\(W, H, P\)"):
        T.ToImage((W, H))(ev)


def test_to_sparse_tensor_holds_the_frames_nonzeros():
    ev = events()
    dense = T.ToFrame(SENSOR, time_window=100_000, include_incomplete=True)(ev)
    sparse = T.ToSparseTensor(SENSOR, time_window=100_000, include_incomplete=True)(ev)
    assert sparse.layout == torch.sparse_coo and sparse.is_coalesced()
    assert tuple(sparse.shape) == dense.shape == (10, 2, H, W) and sparse.dtype == torch.int16
    nonzero = np.nonzero(dense)
    assert np.array_equal(sparse.indices().numpy(), np.stack(nonzero))
    assert np.array_equal(sparse.values().numpy(), dense[nonzero])
    assert int(sparse.values().sum()) == len(ev)  # 10 windows, the last incomplete
    bins = T.ToSparseTensor(SENSOR, n_event_bins=4, overlap=0.5)(ev)
    assert np.array_equal(bins.to_dense().numpy(), T.ToFrame(SENSOR, n_event_bins=4,
                                                             overlap=0.5)(ev))  # fmt: skip
    with pytest.raises(ConfigError, match="exactly one of"):
        T.ToSparseTensor(SENSOR, time_window=1000, n_time_bins=3)(ev)


def with_hot_pixels(dtype=TONIC_DTYPE):
    """4000 background events (~2 per pixel and polarity) plus 3 pixels firing 400 times each
    over the same second."""
    ev = events(dtype=dtype)
    hot = np.zeros(1200, dtype)
    hot["t"] = np.linspace(0, 999_999, 1200).astype(np.int64)
    hot["x"], hot["y"] = np.tile([5, 6, 30], 400), np.tile([3, 3, 29], 400)
    both = np.concatenate((ev, hot))
    return both[np.argsort(both["t"], kind="stable")]


@pytest.mark.parametrize("dtype", [TONIC_DTYPE, EVENT_DTYPE])
def test_drop_pixel_removes_the_hot_pixels(dtype):
    ev = with_hot_pixels(dtype)
    per_pixel = counts(ev).sum(0)
    top3 = np.argsort(per_pixel, axis=None)[-3:]  # the pixels with the top counts
    assert sorted(zip(*np.unravel_index(top3, per_pixel.shape), strict=True)) == [
        (3, 5), (3, 6), (29, 30)]  # fmt: skip
    # 100 Hz over the recording's ~1 s: at most ~100 events a pixel; background pixels have < 20
    assert np.array_equal(A.hot_pixels(ev, 100), [[5, 3], [6, 3], [30, 29]])
    kept = T.DropPixel(hot_pixel_frequency=100)(ev)
    is_hot = ((ev["x"] == 5) | (ev["x"] == 6) | (ev["x"] == 30)) & np.isin(ev["y"], [3, 29])
    is_hot &= ~((ev["x"] == 30) & (ev["y"] == 3)) & ~(np.isin(ev["x"], [5, 6]) & (ev["y"] == 29))
    assert np.array_equal(kept, ev[~is_hot]) and kept.dtype == ev.dtype  # order kept
    assert len(kept) == len(ev) - per_pixel[3, 5] - per_pixel[3, 6] - per_pixel[29, 30]
    # a frequency below the background's rate drops every pixel that fired more often
    assert len(T.DropPixel(hot_pixel_frequency=0.5)(ev)) == 0
    coordinates = [(1, 2), (33, 0)]
    dropped = T.DropPixel(coordinates=coordinates)(ev)
    gone = ((ev["x"] == 1) & (ev["y"] == 2)) | ((ev["x"] == 33) & (ev["y"] == 0))
    assert gone.any() and np.array_equal(dropped, ev[~gone])
    assert np.array_equal(T.DropPixel(coordinates=[])(ev), ev)
    assert len(T.DropPixel(hot_pixel_frequency=100)(ev[:0])) == 0


def test_drop_pixel_on_frames():
    frames = T.ToFrame(SENSOR, n_time_bins=4)(with_hot_pixels())
    before = frames.copy()
    out = T.DropPixel(hot_pixel_frequency=100)(frames)  # a count over all frames here
    assert np.array_equal(frames, before)  # a copy: Tonic zeroes its input in place
    assert np.array_equal(A.hot_pixels_in_frames(frames, 100), [[5, 3], [6, 3], [30, 29]])
    expected = before.copy()
    expected[..., [3, 3, 29], [5, 6, 30]] = 0
    assert np.array_equal(out, expected) and out.dtype == frames.dtype
    one = T.DropPixel(coordinates=[(2, 1)])(frames[0])  # [P, H, W]
    assert not one[:, 1, 2].any() and np.array_equal(np.delete(one.reshape(2, -1), W + 2, 1),
                                                     np.delete(frames[0].reshape(2, -1), W + 2,
                                                               1))  # fmt: skip
    with pytest.raises(ConfigError, match="inside the 34x30 frame"):
        T.DropPixel(coordinates=[(34, 0)])(frames)
    with pytest.raises(ConfigError, match=r"\[P, H, W\]"):
        T.DropPixel(coordinates=[(1, 1)])(frames[0, 0])


def test_drop_pixel_bad_arguments():
    with pytest.raises(ConfigError, match="exactly one of"):
        T.DropPixel()
    with pytest.raises(ConfigError, match="exactly one of"):
        T.DropPixel(coordinates=[(1, 1)], hot_pixel_frequency=10)
    with pytest.raises(ConfigError, match="Hz > 0"):
        T.DropPixel(hot_pixel_frequency=-5)(events())
    with pytest.raises(ConfigError, match=r"\(x, y\) pairs"):
        T.DropPixel(coordinates=[1, 2, 3])(events())


@pytest.mark.parametrize("dtype", [TONIC_DTYPE, INT_DTYPE])
def test_spatial_jitter_values_and_clipping(dtype):
    ev = events(dtype=dtype)
    floats = ev.astype([("x", "<f8"), ("y", "<f8"), ("t", "<i8"), ("p", "<i8")])
    moved = A.tonic_spatial_jitter(floats, (W, H), 4.0, 2.0, 1.0, rng=np.random.default_rng(5))
    out = A.tonic_spatial_jitter(ev, (W, H), 4.0, 2.0, 1.0, rng=np.random.default_rng(5))
    x = np.trunc(moved["x"])  # the same draws written into an integer field: toward zero
    y = np.trunc(moved["y"])
    assert not np.array_equal(moved["x"], x)  # float fields keep the fraction
    assert out.dtype == ev.dtype and np.array_equal(out["x"], x) and np.array_equal(out["y"], y)
    assert np.array_equal(out["t"], ev["t"]) and np.array_equal(out["p"], ev["p"])
    assert (out["x"] < 0).any() and (out["x"] >= W).any()  # kept without clip_outliers
    clipped = A.tonic_spatial_jitter(ev, (W, H), 4.0, 2.0, 1.0, True, rng=np.random.default_rng(5))
    inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
    assert np.array_equal(clipped["x"], x[inside]) and np.array_equal(clipped["t"], ev["t"][inside])
    assert 0 < len(clipped) < len(ev)
    assert np.array_equal(A.tonic_spatial_jitter(ev, (W, H), 0, 0), ev)  # zero covariance


def test_spatial_jitter_covariance_seed_and_bad_args():
    ev = events(20_000, dtype=np.dtype([("x", "<f8"), ("y", "<f8"), ("t", "<i8"), ("p", "u1")]))
    out = A.tonic_spatial_jitter(ev, (W, H), 4.0, 1.0, 1.5, rng=np.random.default_rng(1))
    moved = np.stack([out["x"] - ev["x"], out["y"] - ev["y"]])  # float fields: not truncated
    assert np.allclose(np.cov(moved), [[4.0, 1.5], [1.5, 1.0]], atol=0.15)
    canonical = events(dtype=EVENT_DTYPE)
    np.random.seed(11)
    first = T.SpatialJitter(SENSOR, var_x=2, var_y=2, clip_outliers=True)(canonical)
    np.random.seed(11)
    again = T.SpatialJitter(SENSOR, var_x=2, var_y=2, clip_outliers=True)(canonical)
    assert np.array_equal(first, again) and first.dtype == EVENT_DTYPE
    assert first["x"].max() < W and first["y"].max() < H
    assert not np.array_equal(first, T.SpatialJitter(SENSOR, 2, 2, clip_outliers=True)(canonical))
    with pytest.raises(ConfigError, match="clip_outliers=True"):  # uint16 x cannot go below 0
        T.SpatialJitter(SENSOR)(canonical)
    with pytest.raises(ConfigError, match="positive semi-definite"):
        T.SpatialJitter(SENSOR, var_x=1, var_y=1, sigma_xy=2)(ev)
    with pytest.raises(ConfigError, match="positive semi-definite"):
        T.SpatialJitter(SENSOR, var_x=-1)(ev)
    with pytest.raises(ConfigError, match="sensor_size"):
        T.SpatialJitter((0, 30, 2), clip_outliers=True)(ev)
    small = events(dtype=np.dtype([("x", "i1"), ("y", "i1"), ("t", "<i8"), ("p", "u1")]))
    small["x"] = 127
    with pytest.raises(ConfigError, match="do not fit the int8 field"):
        T.SpatialJitter(SENSOR, var_x=100)(small)


def test_time_jitter_values_clipping_and_sorting():
    ev = events(dtype=INT_DTYPE, t_max=20_000)
    noise = np.random.default_rng(2).normal(0, 300, len(ev))
    t = np.trunc(ev["t"] + noise)
    out = A.tonic_time_jitter(ev, 300, clip_negative=False, rng=np.random.default_rng(2))
    assert np.array_equal(out["t"], t) and np.array_equal(out["x"], ev["x"])
    assert (out["t"] < 0).any()  # kept: clip_negative=False
    clipped = A.tonic_time_jitter(ev, 300, rng=np.random.default_rng(2))  # default: clip
    assert np.array_equal(clipped["t"], t[t >= 0]) and np.array_equal(clipped["y"],
                                                                      ev["y"][t >= 0])  # fmt: skip
    ordered = A.tonic_time_jitter(ev, 300, True, True, rng=np.random.default_rng(2))
    order = np.argsort(t[t >= 0], kind="stable")
    assert np.array_equal(ordered, clipped[order]) and (np.diff(ordered["t"]) >= 0).all()
    assert not (np.diff(clipped["t"]) >= 0).all()  # unsorted unless asked
    np.random.seed(4)
    first = T.TimeJitter(std=50)(ev)
    np.random.seed(4)
    assert np.array_equal(first, T.TimeJitter(std=50)(ev))
    canonical = events(dtype=EVENT_DTYPE)
    assert T.TimeJitter(std=10, clip_negative=False)(canonical).dtype == EVENT_DTYPE  # int64 t
    with pytest.raises(ConfigError, match="clip_negative=True"):
        unsigned_t = [("x", "<i8"), ("y", "<i8"), ("t", "<u8"), ("p", "<i8")]
        T.TimeJitter(std=1, clip_negative=False)(ev.astype(unsigned_t))
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="finite number >= 0"):
            T.TimeJitter(std=bad)(ev)
    late = events(10, dtype=np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i2"), ("p", "?")]))
    late["t"] = 32_767
    with pytest.raises(ConfigError, match="do not fit the int16 field"):
        T.TimeJitter(std=1000)(late)


def test_uniform_noise_count_range_and_order():
    keyed = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?"), ("k", "<i4")])
    ev = events(dtype=keyed)
    ev["t"] += 5000
    ev["k"] = np.arange(1, len(ev) + 1)  # noise events get 0 in fields other than x, y, t, p
    out = A.uniform_noise(ev, SENSOR, 3000, rng=np.random.default_rng(3))
    noise = out[out["k"] == 0]
    assert len(out) == len(ev) + 3000 and len(noise) == 3000 and out.dtype == keyed
    assert np.array_equal(out[out["k"] > 0], ev)  # the input, in its order (stable sort)
    assert (np.diff(out["t"]) >= 0).all()
    assert noise["x"].min() == 0 and noise["x"].max() == W - 1
    assert noise["y"].min() == 0 and noise["y"].max() == H - 1
    assert noise["t"].min() >= ev["t"].min() and noise["t"].max() <= ev["t"].max()
    assert 0.45 < noise["p"].mean() < 0.55  # bool p: both polarities, not all True
    np.random.seed(8)
    first = T.UniformNoise(SENSOR, n=(100, 200))(ev)
    np.random.seed(8)
    assert np.array_equal(first, T.UniformNoise(SENSOR, n=(100, 200))(ev))
    assert 100 <= len(first) - len(ev) < 200
    single = A.uniform_noise(ev, (W, H, 1), 500, rng=np.random.default_rng(0))
    assert not single[single["k"] == 0]["p"].any()
    assert len(T.UniformNoise(SENSOR, n=10)(ev[:0])) == 0  # empty: nothing to add to
    for bad in (-1, 2.5, True):
        with pytest.raises(ConfigError, match="whole number >= 0"):
            T.UniformNoise(SENSOR, n=bad)(ev)
    with pytest.raises(ConfigError, match=r"\(min, max\)"):
        T.UniformNoise(SENSOR, n=(5, 2))(ev)
    with pytest.raises(ConfigError, match=r"\(W, H, P\)"):
        T.UniformNoise((W, H), n=5)(ev)
    with pytest.raises(ConfigError, match="do not fit the int8 field"):
        A.uniform_noise(ev.astype([("x", "i1"), ("y", "i1"), ("t", "<i8"), ("p", "?"),
                                   ("k", "<i4")]), (1000, H, 2), 50)  # fmt: skip


def test_advice_table_no_longer_lists_them():
    for name in ("ToSparseTensor", "ToImage", "DropPixel", "SpatialJitter", "TimeJitter",
                 "UniformNoise"):  # fmt: skip
        assert name in T.__all__ and callable(getattr(T, name))
    with pytest.raises(AttributeError, match=r"DropPixel\(coordinates=\.\.\.\)"):
        T.RandomDropPixel  # noqa: B018


def test_drop_pixel_float_coordinates_match_exactly():
    ev = np.zeros(8, dtype=[("x", "<f8"), ("y", "<f8"), ("t", "<i8"), ("p", "u1")])
    ev["t"] = np.arange(8) * 250_000  # 1.75 s
    ev["x"] = [1.5, 1.5, 1.5, 1.5, 1.0, 2.0, 1.5, 1.0]
    ev["y"] = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 2.5]
    # 2 Hz over 1.75 s: more than 3.5 events; only (1.5, 2) has 4
    assert np.array_equal(A.hot_pixels(ev, 2), [[1.5, 2.0]])
    assert np.array_equal(T.DropPixel(hot_pixel_frequency=2)(ev), ev[4:])
    assert np.array_equal(T.DropPixel(coordinates=[(1, 2)])(ev), np.delete(ev, 4))  # not 1.5


def tonic_drop_pixel(ev, coordinates):
    """Tonic 1.7's ``drop_pixel_numpy`` loop, the reference."""
    dropped = np.zeros(len(ev), dtype=bool)
    for x, y in coordinates:
        dropped |= (ev["x"] == x) & (ev["y"] == y)
    return ev[~dropped]


@pytest.mark.parametrize("dtype", [TONIC_DTYPE, INT_DTYPE, EVENT_DTYPE])
def test_drop_pixel_lookup_table_equals_the_general_path(dtype):
    rng = np.random.default_rng(7)
    ev = events(dtype=dtype)
    if dtype != EVENT_DTYPE:  # signed fields: jittered events off the sensor, on both sides
        ev["x"][::7] -= 40
        ev["y"][::11] += 100
    # duplicates, pixels no event has, and coordinates past the sensor's edge
    pairs = np.concatenate((rng.integers(0, [W, H], (30, 2)), [[3, 4], [3, 4], [W + 5, 2],
                                                               [1, H + 99], [0, 0]]))  # fmt: skip
    pairs[0] = ev["x"][11], ev["y"][11]  # y past the sensor on signed fields
    for coords in (pairs, pairs.astype(np.uint16), pairs[:1], [(int(a), int(b)) for a, b in pairs]):
        as_array = np.asarray(coords)
        assert A._dropped_by_table(ev["x"], ev["y"], as_array) is not None  # the table path
        expected = tonic_drop_pixel(ev, as_array)
        fast = A.drop_pixels(ev, coords)
        general = A.drop_pixels(ev, as_array.astype(np.float64))  # floats: the general path
        assert A._dropped_by_table(ev["x"], ev["y"], as_array.astype(np.float64)) is None
        assert fast.dtype == ev.dtype and np.array_equal(fast, expected)
        assert np.array_equal(general, expected) and len(expected) < len(ev)
    # negative coordinates (which signed fields can hold) and a huge box: the general path
    negative = np.concatenate((pairs, [[ev["x"][7], ev["y"][7]], [-40, -1]]))  # x < 0 if signed
    huge = np.concatenate((pairs, [[2**20, 2**20]]))
    for coords in (negative, huge):
        assert A._dropped_by_table(ev["x"], ev["y"], coords) is None
        assert np.array_equal(A.drop_pixels(ev, coords), tonic_drop_pixel(ev, coords))
    if dtype != EVENT_DTYPE:
        assert len(tonic_drop_pixel(ev, negative)) < len(tonic_drop_pixel(ev, pairs))


def test_uniform_noise_merge_equals_a_stable_sort_of_everything():
    keyed = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?"), ("k", "<i4")])
    ev = events(dtype=keyed, t_max=3000)  # many equal times, within and across input and noise
    ev["k"] = np.arange(1, len(ev) + 1)
    for inp in (ev, ev[::-1]):  # sorted and unsorted input
        out = A.uniform_noise(inp, SENSOR, 5000, rng=np.random.default_rng(4))
        # the same draws, concatenated in draw order, then one stable sort
        noise = out[out["k"] == 0]
        draws = np.random.default_rng(4)
        x, y = (np.trunc(draws.uniform(0, side, 5000)) for side in (W, H))
        t = np.trunc(draws.uniform(float(inp["t"].min()), float(inp["t"].max()), 5000))
        p = draws.integers(0, 2, 5000).astype(bool)
        expected = np.zeros(5000, keyed)
        expected["x"], expected["y"], expected["t"], expected["p"] = x, y, t, p
        both = np.concatenate((inp, expected))
        assert np.array_equal(out, both[np.argsort(both["t"], kind="stable")])
        assert len(np.unique(noise["t"])) < 5000  # ties among the noise too


def test_non_number_arguments_name_the_argument():
    ev, frames = events(50), np.ones((2, H, W))
    cases = [
        (lambda: A.tonic_time_jitter(ev, std="1"), "std must be a number, got '1'"),
        (lambda: A.tonic_time_jitter(ev, std=None), "std must be a number, got None"),
        (lambda: A.hot_pixels(ev, None), "hot_pixel_frequency must be a number, got None"),
        (lambda: A.hot_pixels_in_frames(frames, "a"), "max_count must be a number, got 'a'"),
        (lambda: A.tonic_spatial_jitter(ev, (W, H), var_x="a"), "var_x must be a number, got 'a'"),
        (lambda: A.tonic_spatial_jitter(ev, (W, H), 1, 1, True), "sigma_xy must be a number"),
        (lambda: A.uniform_noise(ev, 5, 10), r"sensor_size is Tonic's \(W, H, P\), got 5"),
        (lambda: A.uniform_noise(ev, "342", 10), "sensor_size is Tonic's"),
        (lambda: A.uniform_noise(ev, (34, 34, "a"), 10), "sensor_size polarities must be a number"),
        (lambda: A.uniform_noise(ev, (34, 34, 1.5), 10), "polarities must be a whole number >= 1"),
        (lambda: A.uniform_noise(ev, (34, 34, float("inf")), 10), "a whole number >= 1"),
    ]
    for make, match in cases:
        with pytest.raises(ConfigError, match=match):
            make()
    # numpy numbers still pass: the same draws as Python numbers
    same = A.tonic_time_jitter(ev, np.float32(3), rng=np.random.default_rng(0))
    assert np.array_equal(same, A.tonic_time_jitter(ev, 3.0, rng=np.random.default_rng(0)))
    noisy = A.uniform_noise(ev, (W, H, np.int64(2)), 7, rng=np.random.default_rng(0))
    assert len(noisy) == 57 and set(np.unique(noisy["p"])) <= {0, 1}
