"""The canonical event type: construction, conversions, slicing, validation, Recording."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import spikestream as ss
from spikestream.events import (
    EVENT_DTYPE,
    TONIC_DTYPE,
    Recording,
    as_events,
    cut,
    from_dict,
    from_structured,
    make_events,
    polarity_to_uint8,
    slice_count,
    slice_time,
    sort_events,
    summarize,
    time_index,
    to_dict,
    to_structured,
    to_tensor,
    to_torch,
    validate_events,
    window_bounds_by_count,
    window_bounds_by_time,
)


def sample(n: int = 6) -> np.ndarray:
    t = np.arange(n, dtype=np.int64) * 10
    return make_events(t, np.arange(n) % 4, np.arange(n) % 3, np.arange(n) % 2)


def test_dtype_layout():
    assert EVENT_DTYPE.names == ("t", "x", "y", "p")
    assert EVENT_DTYPE["t"] == np.int64 and EVENT_DTYPE["x"] == np.uint16
    assert EVENT_DTYPE["y"] == np.uint16 and EVENT_DTYPE["p"] == np.uint8
    assert EVENT_DTYPE.itemsize == 16 and EVENT_DTYPE.fields["t"][1] == 0


def test_empty_and_single():
    empty = make_events([], [], [], [])
    assert empty.dtype == EVENT_DTYPE and len(empty) == 0
    validate_events(empty, (1, 1))
    assert len(slice_time(empty, 0, 10)) == 0
    assert summarize(empty).count == 0
    one = make_events([5], [1], [2], [True])
    assert one.tolist() == [(5, 1, 2, 1)]
    s = summarize(one)
    assert (s.count, s.t_min, s.t_max, s.on_count, s.duration_us) == (1, 5, 5, 1, 0)
    assert window_bounds_by_time(empty, 10).shape == (0, 2)


@pytest.mark.parametrize(
    ("p_in", "expected"),
    [
        (np.array([True, False, True]), [1, 0, 1]),
        (np.array([1, 0, 1], dtype=np.uint8), [1, 0, 1]),
        (np.array([1, -1, 1], dtype=np.int8), [1, 0, 1]),
        (np.array([1.0, -1.0, -1.0]), [1, 0, 0]),
        (np.array([0, 0, 1], dtype=np.int64), [0, 0, 1]),
        (np.array([1, 1, 1], dtype=np.int16), [1, 1, 1]),
    ],
)
def test_every_polarity_encoding(p_in, expected):
    assert polarity_to_uint8(p_in).tolist() == expected
    ev = make_events([0, 1, 2], [0, 0, 0], [0, 0, 0], p_in)
    assert ev["p"].tolist() == expected


@pytest.mark.parametrize("bad", [[0, 2, 1], [-1, 0, 1], [1, -1, 3], [0.5, 1, 0]])
def test_bad_polarity_names_index(bad):
    with pytest.raises(ss.ValidationError) as err:
        make_events([0, 1, 2], [0, 0, 0], [0, 0, 0], np.array(bad))
    assert err.value.field == "p"
    assert err.value.index is not None and str(err.value.index) in str(err.value)


def test_out_of_range_coordinates():
    with pytest.raises(ss.ValidationError) as err:
        make_events([0, 1], [0, -3], [0, 0], [0, 1])
    assert (err.value.index, err.value.field) == (1, "x")
    with pytest.raises(ss.ValidationError, match="outside"):
        make_events([0], [0], [70000], [0])
    ev = make_events([0, 1, 2], [0, 1, 9], [0, 4, 2], [0, 1, 1])
    with pytest.raises(ss.ValidationError) as err:
        validate_events(ev, (9, 10))
    assert (err.value.index, err.value.field) == (2, "x")
    with pytest.raises(ss.ValidationError) as err:
        validate_events(ev, (10, 4))
    assert (err.value.index, err.value.field) == (1, "y")
    assert validate_events(ev, (10, 5)) is ev


def test_unsorted_input():
    ev = make_events([0, 5, 3, 7], [0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 0, 1])
    with pytest.raises(ss.ValidationError) as err:
        validate_events(ev)
    assert (err.value.index, err.value.field) == (2, "t")
    assert "t[2] = 3 < t[1] = 5" in str(err.value)
    validate_events(ev, require_sorted=False)
    # slicing by time on unsorted times returned nothing; now it names the first unsorted index
    for call in (lambda: slice_time(ev, 0, 6), lambda: window_bounds_by_time(ev, 4)):
        with pytest.raises(ss.ValidationError, match=r"t\[2\] = 3 < t\[1\] = 5; sort with") as e:
            call()
        assert (e.value.index, e.value.field) == (2, "t")
    assert slice_time(sort_events(ev), 0, 6)["t"].tolist() == [0, 3, 5]
    s = sort_events(ev)
    assert s["t"].tolist() == [0, 3, 5, 7] and s["x"].tolist() == [0, 2, 1, 3]
    # stable for ties, and a no-op (same object) when already sorted
    ties = make_events([2, 1, 1], [0, 1, 2], [0, 0, 0], [0, 0, 0], sort=True)
    assert ties["x"].tolist() == [1, 2, 0]
    assert sort_events(s) is s


def test_float_times_need_explicit_scale():
    with pytest.raises(ss.ValidationError, match="t_scale"):
        make_events([0.5e-6, 1.0], [0, 0], [0, 0], [0, 0])
    ev = make_events([0.001, 0.0025], [0, 0], [0, 0], [0, 0], t_scale=1e6)
    assert ev["t"].tolist() == [1000, 2500]


def test_length_and_shape_mismatch():
    with pytest.raises(ss.ValidationError, match="'y' has 1"):
        make_events([0, 1], [0, 1], [0], [0, 1])
    with pytest.raises(ss.ValidationError, match="1-D"):
        make_events(np.zeros((2, 2)), [0, 1], [0, 1], [0, 1])


def test_dict_round_trip_is_zero_copy():
    ev = sample()
    d = to_dict(ev)
    assert set(d) == {"t", "x", "y", "p"}
    assert np.shares_memory(d["t"], ev) and np.shares_memory(d["x"], ev)
    back = from_dict(d)
    assert np.array_equal(back, ev)
    c = to_dict(ev, contiguous=True)
    assert c["x"].flags.c_contiguous and not np.shares_memory(c["x"], ev)
    # SpikingJelly datasets store int64/uint32 arrays in npz
    sj = {k: v.astype(np.int64) for k, v in c.items()}
    assert np.array_equal(from_dict(sj), ev)


def test_tonic_structured_any_order_and_dtype():
    ev = sample()
    tonic = to_structured(ev)
    assert tonic.dtype == TONIC_DTYPE and tonic["p"].dtype == np.bool_
    assert tonic["x"].tolist() == ev["x"].tolist() and tonic["p"].tolist() == [
        bool(v) for v in ev["p"]
    ]
    assert np.array_equal(from_structured(tonic), ev)
    weird = np.zeros(len(ev), dtype=[("p", "i1"), ("t", "<f8"), ("y", ">i4"), ("x", "<u8")])
    weird["t"], weird["x"], weird["y"] = ev["t"], ev["x"], ev["y"]
    weird["p"] = ev["p"].astype(np.int8) * 2 - 1
    assert np.array_equal(from_structured(weird), ev)
    pm = to_structured(ev, [("t", "<i8"), ("x", "<i4"), ("y", "<i4"), ("p", "i1")], polarity="pm1")
    assert pm["p"].tolist() == [-1, 1, -1, 1, -1, 1]
    aedat_like = np.zeros(2, dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])
    aedat_like["on"] = [True, False]
    assert from_structured(aedat_like)["p"].tolist() == [1, 0]
    with pytest.raises(ss.ConfigError, match="does not fit"):
        to_structured(
            make_events([0], [300], [0], [0]), [("t", "i8"), ("x", "i1"), ("y", "i1"), ("p", "i1")]
        )
    with pytest.raises(ss.ValidationError, match="no field 'y'"):
        from_structured(np.zeros(2, dtype=[("t", "i8"), ("x", "i2"), ("p", "?")]))


def test_canonical_input_is_not_copied():
    ev = sample()
    assert from_structured(ev) is ev
    assert as_events(ev) is ev
    rec = Recording(ev, (4, 3))
    assert rec.events is ev and as_events(rec) is ev


def test_as_events_dispatch():
    ev = sample()
    cols = np.stack([ev[k].astype(np.int64) for k in "txyp"], axis=1)
    assert np.array_equal(as_events(cols), ev)
    assert np.array_equal(as_events(torch.from_numpy(cols)), ev)
    with pytest.raises(ss.ValidationError, match="cannot interpret"):
        as_events(np.zeros((3, 3)))


def test_torch_conversions():
    ev = sample()
    tens = to_torch(ev)
    assert tens["t"].dtype == torch.int64 and tens["t"].data_ptr() == ev.ctypes.data  # zero-copy
    ev["t"][0] = 99
    assert int(tens["t"][0]) == 99
    ev["t"][0] = 0
    # x, y, p are int64 by default: torch indexes and computes with them (uint16 it cannot)
    assert {tens[k].dtype for k in "xyp"} == {torch.int64}
    frame = torch.zeros(2, 3, 4, dtype=torch.int64)
    frame.index_put_((tens["p"], tens["y"], tens["x"]), torch.ones(6, dtype=torch.int64), True)
    assert frame[1, 1, 1] == 1 and frame[0, 0, 0] == 1 and int(frame.sum()) == 6
    assert (tens["y"] * 4 + tens["x"] - tens["p"]).tolist() == [0, 4, 10, 2, 4, 8]
    assert torch.arange(10)[tens["x"]].tolist() == ev["x"].tolist()
    cast = to_torch(ev, dtype=torch.float32)
    assert cast["y"].tolist() == ev["y"].tolist() and cast["y"].dtype == torch.float32
    native = to_torch(ev, dtype="native")
    assert native["x"].dtype == torch.uint16 and native["p"].dtype == torch.uint8
    with pytest.raises(ss.ConfigError, match="native"):
        to_torch(ev, dtype="int64")  # type: ignore[arg-type]
    stacked = to_tensor(ev)
    assert stacked.shape == (6, 4)
    assert stacked[:, 0].tolist() == ev["t"].tolist() and stacked[:, 3].tolist() == ev["p"].tolist()


def test_slicing_by_time_and_count_are_views():
    ev = sample(10)  # t = 0, 10, ..., 90
    w = slice_time(ev, 15, 45)
    assert w["t"].tolist() == [20, 30, 40] and np.shares_memory(w, ev)
    assert slice_time(ev, 20, 20).size == 0 and slice_time(ev, 50, 10).size == 0
    assert slice_time(ev, None, 10)["t"].tolist() == [0]
    assert slice_time(ev, 85)["t"].tolist() == [90]
    c = slice_count(ev, 8, 5)
    assert c["t"].tolist() == [80, 90] and np.shares_memory(c, ev)
    with pytest.raises(ss.ConfigError):
        slice_count(ev, -1, 2)
    assert time_index(ev, [0, 10, 11, 1000]).tolist() == [0, 1, 2, 10]
    assert time_index(ev, [10], side="right").tolist() == [2]


def test_all_events_at_one_timestamp():
    ev = make_events([7] * 5, range(5), [0] * 5, [1] * 5)
    assert len(slice_time(ev, 7, 8)) == 5 and len(slice_time(ev, 0, 7)) == 0
    assert window_bounds_by_time(ev, 3).tolist() == [[0, 5]]
    s = summarize(ev)
    assert s.duration_us == 0 and s.peak_rate_hz == 5000.0


def test_window_bounds():
    ev = sample(10)
    b = window_bounds_by_time(ev, 25)  # windows [0,25) [25,50) [50,75) [75,100)
    assert b.tolist() == [[0, 3], [3, 5], [5, 8], [8, 10]]
    assert [len(w) for w in cut(ev, b)] == [3, 2, 3, 2]
    over = window_bounds_by_time(ev, 30, stride=20)
    assert over.tolist() == [[0, 3], [2, 5], [4, 7], [6, 9], [8, 10]]
    assert window_bounds_by_count(10, 4).tolist() == [[0, 4], [4, 8], [8, 10]]
    assert window_bounds_by_count(5, 3, stride=2).tolist() == [[0, 3], [2, 5], [4, 5]]
    with pytest.raises(ss.ConfigError):
        window_bounds_by_time(ev, 0)


def test_recording():
    ev = sample(10)
    rec = Recording(ev, (4, 3), "memory", {"serial": "x"})
    assert (rec.width, rec.height, len(rec), rec.duration_us) == (4, 3, 10, 90)
    sub = rec.time_window(20, 50)
    assert sub.sensor_size == (4, 3) and sub.events["t"].tolist() == [20, 30, 40]
    assert sub.metadata["serial"] == "x"
    assert rec.count_window(9, 3).events["t"].tolist() == [90]
    assert rec.validate() is rec
    with pytest.raises(ss.ValidationError):
        Recording(ev, (0, 3))
    with pytest.raises(ss.ValidationError):
        Recording(ev, (3, 3)).validate()
    assert "10 events" in repr(rec)


def test_sorted_check_can_be_skipped_and_recording_checks_once(monkeypatch):
    """`slice_time` checks sortedness (O(N)) on every call; ``assume_sorted`` skips it and a
    `Recording` checks once, so its windows cost a binary search each."""
    from spikestream.events import recording, slicing

    calls = []
    real = slicing.require_sorted

    def counting(t, what):
        calls.append(what)
        real(t, what)

    monkeypatch.setattr(slicing, "require_sorted", counting)
    monkeypatch.setattr(recording, "require_sorted", counting)
    ev = sample(10)
    assert slice_time(ev, 20, 50)["t"].tolist() == [20, 30, 40] and calls == ["slice_time"]
    assert slice_time(ev, 20, 50, assume_sorted=True)["t"].tolist() == [20, 30, 40]
    assert window_bounds_by_time(ev, 40, assume_sorted=True).tolist() == [[0, 4], [4, 8], [8, 10]]
    assert calls == ["slice_time"]  # neither checked again
    rec = Recording(ev, (4, 3))
    windows = [rec.time_window(t, t + 20).events["t"].tolist() for t in range(0, 100, 20)]
    assert windows == [[0, 10], [20, 30], [40, 50], [60, 70], [80, 90]]
    sub = rec.time_window(10, 80)
    assert sub.time_window(30, 50).events["t"].tolist() == [30, 40]
    assert calls == ["slice_time", "Recording.time_window"]  # once for the recording
    unsorted = Recording(make_events([0, 5, 3], [0, 1, 2], [0, 0, 0], [0, 1, 0]), (4, 3))
    with pytest.raises(ss.ValidationError, match=r"Recording.time_window: .*t\[2\] = 3") as err:
        unsorted.time_window(0, 6)
    assert err.value.index == 2
    with pytest.raises(ss.ValidationError):  # still refused on the next call: nothing cached
        unsorted.time_window(0, 6)
    assert rec == Recording(ev, (4, 3))  # the cache is not part of equality


def test_summary_values():
    ev = make_events([0, 100, 900, 1000, 1500, 2999], [0] * 6, [0] * 6, [1, 0, 1, 1, 0, 1])
    s = summarize(ev)
    assert (s.count, s.on_count, s.off_count, s.t_min, s.t_max) == (6, 4, 2, 0, 2999)
    assert s.mean_rate_hz == pytest.approx(6 / 2999e-6)
    assert s.peak_rate_hz == 3000.0  # 3 events in [0, 1000)


def test_ten_million_events_linear():
    n = 10_000_000
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.integers(0, 3, n))
    ev = make_events(t, rng.integers(0, 640, n), rng.integers(0, 480, n), rng.integers(0, 2, n))
    validate_events(ev, (640, 480))
    edges = np.arange(0, int(t[-1]), 1000)
    idx = time_index(ev, edges)
    assert np.array_equal(idx, np.searchsorted(t, edges))
    w = slice_time(ev, 5000, 9000)
    assert np.shares_memory(w, ev) and w["t"].min() >= 5000 and w["t"].max() < 9000
    assert summarize(ev).count == n


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.int64, st.integers(0, 200), elements=st.integers(0, 10_000)),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)
def test_time_index_matches_numpy(t, a, b):
    t = np.sort(t)
    ev = make_events(t, np.zeros_like(t), np.zeros_like(t), np.zeros_like(t))
    for side in ("left", "right"):
        assert (
            time_index(ev, [a, b], side=side).tolist() == np.searchsorted(t, [a, b], side).tolist()
        )
    lo, hi = min(a, b), max(a, b)
    assert slice_time(ev, lo, hi)["t"].tolist() == t[(t >= lo) & (t < hi)].tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**40), st.integers(0, 65535), st.integers(0, 65535), st.booleans()
        ),
        max_size=50,
    )
)
def test_round_trips_property(rows):
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    ev = make_events(*cols)
    assert np.array_equal(from_dict(to_dict(ev)), ev)
    wide = [("t", "<i8"), ("x", "<i4"), ("y", "<i4"), ("p", "?")]
    assert np.array_equal(from_structured(to_structured(ev, wide)), ev)
    assert np.array_equal(as_events(to_tensor(ev)), ev)
    assert np.array_equal(from_dict({k: v.numpy() for k, v in to_torch(ev).items()}), ev)


def test_one_sensor_size_rule_everywhere(tmp_path):
    """Sides 1..65536 (x and y are uint16) for readers/writers, transforms, Recording, the
    simulator and the CLI: transforms accepted a 70000-wide sensor."""
    from spikestream.events import limits
    from spikestream.io import base
    from spikestream.sim.camera import check_size
    from spikestream.transforms.functional import to_frames

    assert limits.sensor_dims((65536, 1)) == (65536, 1) and limits.sensor_dims([3.0, 4]) == (3, 4)
    ev = sample(10)
    for bad in [(70000, 1), (1, 65537), (0, 4), (4, -1), "34", None, (1, 2, 3)]:
        with pytest.raises(ss.ConfigError, match=r"1 <= W, H <= 65536 \(x and y are 16-bit\)"):
            limits.sensor_dims(bad)
        with pytest.raises(ss.ConfigError, match="1 <= W, H <= 65536"):
            to_frames(ev, bad, n_frames=1)
        with pytest.raises(ss.ConfigError, match="1 <= W, H <= 65536"):
            base.sensor_size_value(bad, given=True)
        with pytest.raises(ss.FormatError, match="1 <= W, H <= 65536"):
            base.sensor_size_value(bad, path="f.raw", offset=3)
        with pytest.raises(ss.ValidationError, match="1 <= W, H <= 65536"):
            Recording(ev, bad)
    with pytest.raises(ss.ConfigError, match="1 <= W, H <= 65536"):
        ss.write(tmp_path / "o.raw", ev, (70000, 1), format="evt3")
    with pytest.raises(ss.ConfigError, match="1 <= W, H <= 65536"):
        check_size((2, 1, 70000))
    assert not hasattr(base, "MAX_SENSOR_SIDE")  # one constant: limits.MAX_SIDE


def test_first_outside_is_the_one_sensor_bounds_check():
    from spikestream.events import first_outside

    ev = make_events([0, 1, 2, 3], [0, 5, 1, 9], [0, 1, 7, 2], [0, 1, 1, 0])
    assert first_outside(ev["x"], ev["y"], 10, 8) is None  # strided uint16 field views
    assert first_outside(ev["x"], ev["y"], 9, 8) == 3
    assert first_outside(ev["x"], ev["y"], 10, 7) == 2  # y of event 2 before x of event 3
    assert first_outside(ev["x"], ev["y"], 6, 7) == 2
    assert first_outside(ev["x"], None, 6, None) == 3  # one coordinate only
    signed = np.array([0, 3, -1, 2])
    assert first_outside(signed, signed, None, None) == 2  # no bound: x, y >= 0 only
    assert first_outside(signed, None, 3, None) == 1
    assert first_outside(np.zeros(0, np.int64), np.zeros(0, np.int64), 1, 1) is None
    # validate_events reports the first event outside, whichever coordinate it is
    with pytest.raises(ss.ValidationError, match="event 2: y = 7 is outside the sensor height 7"):
        validate_events(ev, (9, 7))
