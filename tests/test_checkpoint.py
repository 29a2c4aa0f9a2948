"""The checkpoint contract (spikestream.models.checkpoint): save/load round trip, the record,
and every bad file giving an error that names it."""

from __future__ import annotations

import pytest
import torch

from spikestream import models
from spikestream.errors import ConfigError, FormatError, MissingFileError
from spikestream.models.checkpoint import (
    ModelRecord,
    check_input,
    input_record,
    load_model,
    read_record,
    save_model,
)

SMALL = {"channels": 4, "hidden": [16], "voting": 2}


def _record(**kw):
    inp = input_record(
        "frames", sensor_size=[34, 34], height=34, width=34, steps=4, split_by="number",
        frames_number=4,
    )  # fmt: skip
    base = dict(name="plifnet_ndigits", model_args=SMALL, classes=list("0123456789"), input=inp)
    base.update(kw)
    return ModelRecord(**base)


def test_round_trip_outputs_equal(tmp_path):
    torch.manual_seed(0)
    net = models.create("plifnet_ndigits", **SMALL).eval()
    path = tmp_path / "m.ckpt"
    save_model(path, net, _record())
    raw = torch.load(path, weights_only=True)  # plain data only
    assert raw["spikestream"]["model"] == "plifnet_ndigits"
    assert raw["spikestream"]["model_args"]["hidden"] == [16]  # tuples stored as lists
    assert all(k.startswith("model.") for k in raw["state_dict"])
    loaded, record = load_model(path)
    assert not loaded.training
    assert record == read_record(path)
    assert record.classes == list("0123456789")
    assert record.input["kind"] == "frames" and record.input["pool"] == 1
    x = (torch.rand(3, 4, 2, 34, 34) < 0.2).float()
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def test_compiled_prefix_and_extra_entries_are_ignored(tmp_path):
    net = models.create("rsnn_pokerdvs", input_shape=(2, 8, 8), hidden=5)
    inp = input_record("frames", sensor_size=[8, 8], height=8, width=8, steps=None,
                       split_by="duration", duration_us=1000, step_us=1000.0)  # fmt: skip
    rec = ModelRecord("rsnn_pokerdvs", {"input_shape": (2, 8, 8), "hidden": 5}, list("abcd"), inp)
    state = {f"model._orig_mod.{k}": v for k, v in net.state_dict().items()}
    state["loss.weight"] = torch.ones(1)  # outside the model: ignored
    torch.save({"spikestream": rec.to_dict(), "state_dict": state, "epoch": 3}, tmp_path / "c")
    loaded, got = load_model(tmp_path / "c")
    assert got.model_args == {"input_shape": [2, 8, 8], "hidden": 5}
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_token_input_record():
    inp = input_record("tokens", sensor_size=[240, 180], num_events=255, sampler="random",
                       grid=[48, 36], norm_t="dataset", t_scale=521217.0)  # fmt: skip
    assert inp["kind"] == "tokens" and inp["grid"] == [48, 36]
    with pytest.raises(ConfigError, match="num_events"):
        input_record("tokens", sensor_size=[4, 4], num_events=0, norm_t="sample")
    with pytest.raises(ConfigError, match="kind"):
        check_input({"kind": "voxels"})
    with pytest.raises(ConfigError, match=r"lacks \['grid'"):
        check_input({"kind": "tokens", "sensor_size": [4, 4], "num_events": 3, "sampler": "x"})


@pytest.mark.parametrize(
    "body, error, match",
    [
        (b"not a zip", FormatError, "not a readable torch checkpoint"),
        (b"junk\n", FormatError, "not a readable torch checkpoint"),  # KeyError in the unpickler
        (b"abc", FormatError, "not a readable torch checkpoint"),  # IndexError
        ({"state_dict": {}}, FormatError, "not a spikestream checkpoint"),
        (
            {"model": "csnn_ndigits", "config": {}, "state_dict": {}},
            FormatError,
            "an old export dict",
        ),
        ([1, 2], FormatError, "not a spikestream checkpoint"),
        ({"spikestream": {"version": 9}, "state_dict": {}}, FormatError, "version 9"),
        (
            {"spikestream": {**_record().to_dict(), "model": "nope"}, "state_dict": {}},
            ConfigError,
            "no model named 'nope'",
        ),
        ({"spikestream": _record().to_dict(), "state_dict": {}}, ConfigError, "do not fit"),
    ],
)
def test_bad_files_name_the_file(tmp_path, body, error, match):
    path = tmp_path / "bad.ckpt"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        torch.save(body, path)
    with pytest.raises(error, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_truncated_and_missing(tmp_path):
    path = tmp_path / "m.ckpt"
    save_model(path, models.create("plifnet_ndigits", **SMALL), _record())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="truncated"):
        load_model(path)
    with pytest.raises(MissingFileError):
        load_model(tmp_path / "absent.ckpt")
    with pytest.raises(FormatError, match="folder"):
        load_model(tmp_path)


def test_record_must_be_plain_data(tmp_path):
    with pytest.raises(ConfigError, match=r"model_args\.act"):
        save_model(tmp_path / "x", torch.nn.Linear(1, 1),
                   _record(model_args={"act": torch.nn.ReLU()}))  # fmt: skip
    assert not list(tmp_path.iterdir())  # nothing half-written


def _frames(**kw):
    inp = input_record("frames", sensor_size=[34, 34], height=34, width=34, steps=4,
                       split_by="number", frames_number=4)  # fmt: skip
    return {**inp, **kw}


def _tokens(**kw):
    inp = input_record("tokens", sensor_size=[240, 180], num_events=8, sampler="random",
                       norm_t="sample")  # fmt: skip
    return {**inp, **kw}


@pytest.mark.parametrize(
    "inp, match",
    [
        (_tokens(norm_t="dataset", t_scale=None), "t_scale"),
        (_tokens(sampler="everything"), "sampler"),
        (_tokens(pool=0), "pool"),
        (_frames(height=None), "height"),
        (_frames(width=0), "width"),
        (_frames(split_by="duration", duration_us=None), "duration_us"),
        (_frames(frames_number=None), "frames_number"),
        (_frames(crop=[0, 0, "a", 4]), "crop"),
    ],
)
def test_invalid_input_records_are_refused(tmp_path, inp, match):
    with pytest.raises(ConfigError, match=match):
        check_input(inp)
    # a file holding one: FormatError naming the file and the key, from every reader
    path = tmp_path / "bad.ckpt"
    body = {**_record().to_dict(), "input": inp}
    torch.save({"spikestream": body, "state_dict": {}}, path)
    with pytest.raises(FormatError, match=match) as info:
        read_record(path)
    assert str(path) in str(info.value)


def test_records_written_before_the_added_keys_still_read(tmp_path):
    old = _tokens(norm_t="dataset", t_scale=521217.0)
    for key in ("crop", "pool", "window_us"):
        del old[key]
    rec = ModelRecord.from_dict({**_record().to_dict(), "input": old})
    assert (rec.input["crop"], rec.input["pool"], rec.input["window_us"]) == (None, 1, None)
    frames = _frames()
    del frames["events_per_frame"]
    assert ModelRecord.from_dict({**_record().to_dict(), "input": frames}).input["pool"] == 1


def test_frames_input_and_recording_stats():
    import numpy as np

    from spikestream.models.checkpoint import frames_input, recording_stats

    t = np.array([0, 10, 30, 5, 5, 100, 400], dtype=np.int64)  # recordings: 3, 0, 2, 2 events
    offsets = np.array([0, 3, 3, 5, 7])
    span, count = recording_stats(t, offsets, np.array([0, 1, 2, 3]))
    assert span == (30 + 0 + 300) / 3 and count == 7 / 4  # the empty one has no duration
    inp = frames_input((35, 33), frames_number=5, crop=(1, 0, 33, 33), pool=2,
                       mean_duration_us=span, mean_events=count)  # fmt: skip
    assert (inp["width"], inp["height"], inp["crop"], inp["pool"]) == (17, 17, [1, 0, 33, 33], 2)
    assert inp["step_us"] == span / 5 and inp["events_per_frame"] == count / 5
    fixed = frames_input((35, 33), duration_us=1000, mean_duration_us=span, mean_events=count)
    assert (fixed["split_by"], fixed["step_us"], fixed["steps"]) == ("duration", 1000.0, None)
    assert fixed["events_per_frame"] is None


def test_frame_shape_of_a_record():
    """One input frame's (channels, height, width) for warm-ups and export; None for tokens."""
    assert _record().frame_shape() == (2, 34, 34)
    tokens = input_record("tokens", sensor_size=[240, 180], num_events=255, sampler="random",
                          grid=[48, 36], norm_t="dataset", t_scale=521217.0)  # fmt: skip
    assert ModelRecord("event2vec_asldvs", input=tokens).frame_shape() is None
