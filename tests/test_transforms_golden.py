"""Equality with SpikingJelly 2.0 and Tonic 1.7 outputs on fixed inputs (../shared/data/golden).
Counts, indices and filter results are exact; floats are bit-exact where the README says the
operation order is reproducible."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spikestream.compat import spikingjelly as sj
from spikestream.compat.tonic import collation, transforms
from spikestream.events import make_events
from spikestream.transforms import ToFrames
from spikestream.transforms.functional import EmptyFrameError, to_frames, tonic_frames

from .conftest import load_golden

SJ_SETS = ["A_sj_frames_synth128.npz", "A_sj_frames_synth34.npz", "A_sj_frames_synth180x240.npz"]


def load(name):
    z = load_golden(name)
    return z, json.loads(str(z["__meta__"]))


def sj_cases(z, prefix=""):
    """(split, T) pairs stored for ``prefix`` (outputs or recorded errors)."""
    out = set()
    for k in z.files:
        if k.startswith(prefix + "frames_") and ("number_T" in k or "time_T" in k):
            rest = k[len(prefix) + len("frames_") :].replace("__error", "")
            split, T = rest.split("_T")
            out.add((split, int(T)))
    return sorted(out)


def sj_events(z, prefix=""):
    return {k: z[f"{prefix}ev_{k}"] for k in "txyp"}


@pytest.mark.parametrize("name", SJ_SETS)
def test_sj_frames_number_time_duration_segment(name):
    z, meta = load(name)
    H, W = meta["H"], meta["W"]
    ev = sj_events(z)
    cases = sj_cases(z)
    assert cases
    for split, T in cases:
        frames = sj.integrate_events_by_fixed_frames_number(ev, split, T, H, W)
        expected = z[f"frames_{split}_T{T}"]
        assert frames.dtype == np.float64 and frames.shape == expected.shape
        assert np.array_equal(frames, expected), (split, T)
        j_l, j_r = sj.cal_fixed_frames_number_segment_index(ev["t"], split, T)
        assert np.array_equal(j_l, z[f"segidx_{split}_T{T}_jl"])
        assert np.array_equal(j_r, z[f"segidx_{split}_T{T}_jr"])
        # the native API on canonical events gives the same counts
        canon = make_events(ev["t"], ev["x"], ev["y"], ev["p"])
        native = to_frames(canon, (W, H), n_frames=T, split_by=split, dtype=np.float64)
        assert np.array_equal(native, expected)
    durations = [k for k in z.files if k.startswith("frames_duration_")]
    assert len(durations) == 2
    for key in durations:
        d = int(key.rsplit("_", 1)[1])
        assert np.array_equal(sj.integrate_events_by_fixed_duration(ev, d, H, W), z[key]), key
    for key in [k for k in z.files if k.startswith("segment_")]:
        a, b = key[len("segment_") :].split("_")
        frame = sj.integrate_events_segment_to_frame(
            ev["x"], ev["y"], ev["p"], H, W, int(a), None if b == "None" else int(b)
        )
        assert np.array_equal(frame, z[key]), key


@pytest.mark.parametrize("prefix", ["e10_", "same_", "pm1_", "pix_"])
def test_sj_edge_cases_including_errors(prefix):
    z, _ = load("A_sj_frames_edge.npz")
    ev = sj_events(z, prefix)
    for split, T in sj_cases(z, prefix):
        key = f"{prefix}frames_{split}_T{T}"
        if key + "__error" in z.files:
            assert str(z[key + "__error"]).startswith("IndexError")
            with pytest.raises(IndexError):
                sj.integrate_events_by_fixed_frames_number(ev, split, T, 34, 34)
            with pytest.raises(EmptyFrameError):
                sj.cal_fixed_frames_number_segment_index(ev["t"], split, T)
            continue
        got = sj.integrate_events_by_fixed_frames_number(ev, split, T, 34, 34)
        assert np.array_equal(got, z[key]), key
    for key in [k for k in z.files if k.startswith(prefix + "frames_duration_")]:
        d = int(key.replace("__error", "").rsplit("_", 1)[1])
        if key.endswith("__error"):
            with pytest.raises(IndexError):
                sj.integrate_events_by_fixed_duration(ev, d, 34, 34)
        else:
            assert np.array_equal(sj.integrate_events_by_fixed_duration(ev, d, 34, 34), z[key])
    if prefix + "segment_0_None" in z.files:  # p in {-1, +1}: everything in channel 1
        got = sj.integrate_events_segment_to_frame(ev["x"], ev["y"], ev["p"], 34, 34)
        assert np.array_equal(got, z[prefix + "segment_0_None"]) and got[0].sum() == 0


def test_sj_real_nmnist_and_tonic_cross_check():
    z, _ = load("A_sj_frames_nmnist_real.npz")
    ev = sj_events(z)
    for split in ("number", "time"):
        got = sj.integrate_events_by_fixed_frames_number(ev, split, 10, 34, 34)
        assert np.array_equal(got, z[f"frames_{split}_T10"])
    assert np.array_equal(
        sj.integrate_events_by_fixed_duration(ev, 50000, 34, 34), z["frames_duration_50000"]
    )
    structured = np.zeros(
        len(ev["t"]), dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")]
    )
    for k in "txyp":
        structured[k] = ev[k]
    tonic_keys = [k for k in z.files if "tonic" in k]
    assert tonic_keys
    for key in tonic_keys:
        kw = {"n_time_bins": 10} if "ntb" in key or "time" in key else {"n_event_bins": 10}
        got = transforms.ToFrame(sensor_size=(34, 34, 2), **kw)(structured)
        assert got.dtype == np.int16 and np.array_equal(got, z[key]), key


def test_sj_collate_and_mask():
    z, _ = load("A_sj_collate.npz")
    batch = [(z[f"in{i}"], int(z["labels"][i])) for i in range(3)]
    x_p, y, x_len = sj.pad_sequence_collate(batch)
    assert x_p.dtype == torch.float64 and np.array_equal(x_p.numpy(), z["x_p"])
    assert y.tolist() == z["y"].tolist() and x_len.tolist() == z["x_len"].tolist()
    assert np.array_equal(sj.padded_sequence_mask(x_len).numpy(), z["mask"])
    assert np.array_equal(sj.padded_sequence_mask(x_len, 12).numpy(), z["mask_T12"])
    assert np.array_equal(sj.padded_sequence_mask(x_len, 5).numpy(), z["mask_T5"])


def tonic_input(z, meta):
    dtype = np.dtype(eval(meta["struct_dtype"]))
    ev = np.zeros(len(z["ev_t"]), dtype=dtype)
    for k in "xytp":
        ev[k] = z[f"ev_{k}"]
    return ev


def toframe_kwargs(key: str) -> dict:
    spec = key[len("toframe_") :]
    parts = spec.split("_")
    head = parts[0]
    kw: dict = {}
    for prefix, name in (
        ("tw", "time_window"),
        ("ec", "event_count"),
        ("ntb", "n_time_bins"),
        ("neb", "n_event_bins"),
    ):
        if head.startswith(prefix) and head[len(prefix) :].isdigit():
            kw[name] = int(head[len(prefix) :])
    for part in parts[1:]:
        if part.startswith("ov"):
            value = float(part[2:])
            kw["overlap"] = int(value) if value.is_integer() and "." not in part else value
        elif part.startswith("inc"):
            kw["include_incomplete"] = part == "incT"
    return kw


@pytest.mark.parametrize("name", ["B_tonic_128.npz", "B_tonic_34.npz", "B_tonic_180x240.npz"])
def test_tonic_toframe_voxel_surface(name):
    z, meta = load(name)
    W, H, P = meta["sensor_size"]
    ev = tonic_input(z, meta)
    keys = [k for k in z.files if k.startswith("toframe_")]
    assert keys
    for key in keys:
        got = transforms.ToFrame(sensor_size=(W, H, P), **toframe_kwargs(key))(ev)
        assert got.dtype == np.int16 and got.shape == z[key].shape, key
        assert np.array_equal(got, z[key]), key
    for key in [k for k in z.files if k.startswith("voxel_")]:
        n = int(key.split("_")[1])
        if key.endswith("__error"):
            bad = ev.astype([("x", "<i2"), ("y", "<i2"), ("p", "u1"), ("t", "<i8")])
            with pytest.raises(ValueError, match="OverflowError"):
                transforms.ToVoxelGrid(sensor_size=(W, H, P), n_time_bins=n)(bad)
            continue
        src = ev
        if key.endswith("_intp"):
            src = ev.astype([("x", "<i2"), ("y", "<i2"), ("p", "<i8"), ("t", "<i8")])
        got = transforms.ToVoxelGrid(sensor_size=(W, H, P), n_time_bins=n)(src)
        assert got.shape == z[key].shape and np.array_equal(got, z[key]), key
    for key in [k for k in z.files if k.startswith("timesurface_")]:
        dt, tau = (int(v) for v in key[len("timesurface_dt") :].split("_tau"))
        got = transforms.ToTimesurface(sensor_size=(W, H, P), dt=dt, tau=tau)(ev)
        assert got.shape == z[key].shape and np.array_equal(got, z[key]), key


@pytest.mark.parametrize("name", ["B_tonic_128.npz", "B_tonic_34.npz"])
def test_tonic_denoise_refractory(name):
    z, meta = load(name)
    ev = tonic_input(z, meta)
    for key in [k for k in z.files if k.endswith("_kept_idx")]:
        kind, value = key.split("_")[:2]
        fn = (
            transforms.Denoise(filter_time=int(value))
            if kind == "denoise"
            else (transforms.RefractoryPeriod(delta=int(value)))
        )
        got = fn(ev)
        idx = z[key]
        assert len(got) == len(idx), key
        for k in "xytp":
            assert np.array_equal(got[k], z[f"{kind}_{value}_{k}"]), key
        assert np.array_equal(got, ev[idx])


def test_native_frames_match_tonic_on_canonical_events():
    z, meta = load("B_tonic_34.npz")
    ev = tonic_input(z, meta)
    canon = make_events(ev["t"], ev["x"], ev["y"], ev["p"])
    got = tonic_frames(canon, (34, 34), n_time_bins=10)
    assert np.array_equal(got, z["toframe_ntb10"])
    frames = ToFrames((34, 34), n_frames=8, split_by="time")(canon)
    assert frames.shape == (8, 2, 34, 34) and frames.sum() == len(canon)


def test_tonic_pad_tensors():
    a = np.ones((3, 2)), 1
    b = np.ones((5, 2)) * 2, 0
    data, targets = collation.PadTensors()([a, b])
    assert data.shape == (2, 5, 2) and data[0, 3:].sum() == 0 and data[1].sum() == 20
    assert targets.tolist() == [1, 0]
    data, _ = collation.PadTensors(batch_first=False)([a, b])
    assert data.shape == (5, 2, 2)
