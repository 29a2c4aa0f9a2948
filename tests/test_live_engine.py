"""The streaming engine: bins independent of chunking, the geometry mapping, step == multi-step,
strict loading, reset policies, the bounded queue, decisions and metrics.

The helpers at the top (a labelled NDigits stream, a small trained checkpoint, an in-memory
source) are shared with tests/test_live_replay.py, test_live_learn.py and test_live_cli.py."""

from __future__ import annotations

import functools
import itertools
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from spikestream import models
from spikestream.errors import ConfigError, ValidationError
from spikestream.events import EVENT_DTYPE, make_events
from spikestream.live import (
    Binner,
    Decider,
    Engine,
    EngineConfig,
    Geometry,
    Metrics,
    ResetPolicy,
    bin_width_us,
    resolve_geometry,
    run_offline,
)
from spikestream.live.decision import probabilities
from spikestream.live.sources import EventChunk
from spikestream.models.checkpoint import ModelRecord, input_record, load_model, save_model
from spikestream.transforms.functional import accumulate, augment, to_frames

SENSOR = (34, 34)
BIN_US = 10_000
STEPS = 30  # a digit's 300 ms in 10 ms bins
GAP_US = 60_000  # quiet time between two digits of a stream


# -- shared helpers -------------------------------------------------------------------------


@functools.cache
def _digit(index: int) -> tuple[np.ndarray, int]:
    from spikestream.sim.digits import digit_events, digit_images

    return digit_events(index), int(digit_images()[1][index])


def digit_stream(indices, gap_us: int = GAP_US, t0: int = 1_000_000):
    """NDigits recordings one after the other (``gap_us`` of silence between them) as one
    stream, and the label of each as ``(t_start_us, t_end_us, label)``."""
    parts, labels = [], []
    t = t0
    for i in indices:
        ev, label = _digit(int(i))
        ev = ev.copy()
        ev["t"] += t - int(ev["t"][0])
        parts.append(ev)
        labels.append((t, int(ev["t"][-1]) + 1, label))
        t = int(ev["t"][-1]) + gap_us
    return np.concatenate(parts), labels


def digit_frames(indices) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, STEPS, 2, 17, 17]`` training frames (10 ms bins, 2x2 pooling) and labels."""
    frames, labels = [], []
    for i in indices:
        ev, label = _digit(int(i))
        f = to_frames(ev, SENSOR, duration=BIN_US)[:STEPS]
        f = np.pad(f, ((0, STEPS - len(f)), (0, 0), (0, 0), (0, 0)))
        frames.append(f.reshape(STEPS, 2, 17, 2, 17, 2).sum((3, 5)))
        labels.append(label)
    return torch.from_numpy(np.stack(frames)), torch.as_tensor(labels)


def tiny_record() -> ModelRecord:
    inp = input_record(
        "frames", sensor_size=list(SENSOR), channels=2, height=17, width=17, steps=STEPS,
        split_by="duration", duration_us=BIN_US, step_us=BIN_US, crop=None, pool=2,
    )  # fmt: skip
    args = {"input_size": [17, 17], "n_down": 0, "hidden": [64], "dropout": 0.0}
    return ModelRecord("plifnet_ndigits", args, [str(c) for c in range(10)], inp)


def tiny_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return models.create("plifnet_ndigits", **tiny_record().model_args)


@functools.cache
def _trained_state() -> dict[str, torch.Tensor]:
    """A small PLIF network (pooled 17x17 input, one hidden layer of 64) fit for 30
    Adam steps on 150 NDigits recordings: well above chance (about 35 %), seconds to train."""
    x, y = digit_frames(range(150))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: torch's threads only spin on shared cores
    try:
        return _fit(x, y)
    finally:
        torch.set_num_threads(threads)


def _fit(x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    model = tiny_model(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(30):
        b = torch.randint(0, len(y), (32,), generator=gen)
        loss = torch.nn.functional.mse_loss(
            model(x[b]), torch.nn.functional.one_hot(y[b], 10).float()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_checkpoint(folder: Path) -> Path:
    path = folder / "tiny.ckpt"
    if not path.exists():
        model = tiny_model()
        model.load_state_dict(_trained_state())
        save_model(path, model, tiny_record())
    return path


class ListSource:
    """An in-memory source: the given chunks (arrival stamped when yielded), optionally
    spaced by ``pause_s``."""

    speed = None  # as fast as it yields: bins close on events only (no clock)

    def __init__(self, chunks, sensor_size=SENSOR, pause_s: float = 0.0):
        self.chunks = list(chunks)
        self.sensor_size = sensor_size
        self.stats: dict = {"chunks": 0}
        self.pause_s = pause_s
        self._closed = threading.Event()

    def __iter__(self):
        for c in self.chunks:
            if self._closed.is_set():
                return
            if self.pause_s:
                self._closed.wait(self.pause_s)
            self.stats["chunks"] += 1
            yield EventChunk(c, time.monotonic_ns())

    def close(self):
        self._closed.set()


def split_randomly(events: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    cuts = np.sort(np.random.default_rng(seed).integers(0, len(events), n))
    return np.split(events, cuts)


def random_events(n: int, span_us: int, seed: int = 0, size=SENSOR) -> np.ndarray:
    g = np.random.default_rng(seed)
    t = np.sort(g.integers(0, span_us, n))
    return make_events(t, g.integers(0, size[0], n), g.integers(0, size[1], n), g.integers(0, 2, n))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return trained_checkpoint(tmp_path_factory.mktemp("live_engine"))


# -- binning --------------------------------------------------------------------------------


def _bins(binner: Binner, chunks) -> list:
    out = []
    for c in chunks:
        out += binner.push(c)
    return out + binner.flush()


def test_bins_do_not_depend_on_chunking():
    ev = random_events(20_000, 400_000, seed=1)
    ev = np.concatenate([ev, random_events(500, 50_000, seed=2)])  # a quiet stretch, then more
    ev["t"][20_000:] += 2_000_000
    whole = _bins(Binner(BIN_US, SENSOR), [ev])
    for seed, n in ((0, 5), (1, 300), (2, 19_000)):
        other = _bins(Binner(BIN_US, SENSOR), split_randomly(ev, n, seed))
        assert [b.index for b in other] == [b.index for b in whole]
        assert [b.empty_before for b in other] == [b.empty_before for b in whole]
        for a, b in zip(whole, other, strict=True):
            np.testing.assert_array_equal(a.image, b.image)
    # the bins are training's duration frames (fixed grid from the first event)
    frames = to_frames(ev[:20_000], SENSOR, duration=BIN_US)
    first = [b for b in whole if b.t_start_us < 400_000]
    assert first[0].t_start_us == int(ev["t"][0])
    for b in first[:-1]:  # training's last frame also takes an event at exactly its end
        np.testing.assert_array_equal(b.image, frames[b.index])
    assert sum(b.n_events for b in whole) == len(ev)
    gap = next(b for b in whole if b.t_start_us > 2_000_000)
    assert gap.empty_before > 100  # the quiet stretch: one count, no empty bins emitted


def test_binner_late_unsorted_and_rewind():
    b = Binner(1000, SENSOR)
    ev = random_events(100, 10_000, seed=3)
    assert [x.index for x in b.push(ev)] == list(range(9))
    late = ev[:5].copy()  # events from bins already closed: counted into the open bin
    assert b.push(late) == [] and b.late_events == 5
    (last,) = b.flush()
    assert last.index == 9 and last.n_events == int((ev["t"] >= 9000).sum()) + 5
    unsorted = random_events(50, 5_000, seed=4)[::-1].copy()
    b2 = Binner(1000, SENSOR)
    out = _bins(b2, [unsorted])
    assert b2.unsorted_chunks == 1 and sum(x.n_events for x in out) == 50
    # a jump back by more than rewind_us (a restarted recording) starts a new grid
    b3 = Binner(1000, SENSOR, rewind_us=5_000)
    first = ev.copy()
    first["t"] += 100_000
    b3.push(first)
    out = b3.push(ev)
    assert b3.restarts == 1 and b3.origin == int(ev["t"][0])
    # the old grid's open bin is closed first, then the new grid starts at bin 0, marked
    assert [x.index for x in out] == [9, *range(9)]
    assert [x.restart for x in out] == [False, True] + [False] * 8
    assert out[1].t_start_us == int(ev["t"][0])


def test_binner_refuses_foreign_dtype_and_folds_big_bins():
    with pytest.raises(ValidationError, match="canonical"):
        Binner(1000, SENSOR).push(np.zeros(3, dtype=[("t", "<i8"), ("x", "<i2")]))
    with pytest.raises(ConfigError, match="bin width"):
        Binner(0, SENSOR)
    ev = random_events(5_000, 1_000, seed=5)  # one bin
    small = Binner(10_000, SENSOR, fold_events=64)
    (folded,) = _bins(small, split_randomly(ev, 200, 0))
    (plain,) = _bins(Binner(10_000, SENSOR), [ev])
    np.testing.assert_array_equal(folded.image, plain.image)
    assert folded.n_events == plain.n_events == 5_000


# -- geometry -------------------------------------------------------------------------------


def test_geometry_is_training_crop_then_pool():
    sensor = (346, 260)
    ev = random_events(30_000, 10_000, seed=6, size=sensor)
    g = Geometry(sensor, (45, 2, 256, 256), pool=2)
    assert g.input_shape == (2, 128, 128)
    image = accumulate(ev, np.array([0]), np.array([len(ev)]), sensor)
    live = g.apply(image)
    # training's path: crop the events, integer-pool their coordinates, then count
    cropped = augment.crop(ev, (45, 2), (256, 256))
    cropped["x"] //= 2
    cropped["y"] //= 2
    train = accumulate(cropped, np.array([0]), np.array([len(cropped)]), (128, 128))
    np.testing.assert_array_equal(live, train)
    one = Geometry(sensor, (45, 2, 256, 256), pool=2, channels=1).apply(image)
    np.testing.assert_array_equal(one[:, 0], train[:, 0] + train[:, 1])


def test_resolve_geometry_rules():
    inp = tiny_record().input  # 34x34 sensor, pool 2 -> 17x17
    assert resolve_geometry(inp, (34, 34)) == Geometry((34, 34), (0, 0, 34, 34), 2)
    # another sensor: the centred box of pool x the input
    assert resolve_geometry(inp, (64, 48)).crop == (15, 7, 34, 34)
    assert resolve_geometry(inp, (64, 48), crop=(0, 0, 17, 17), pool=1).pool == 1
    with pytest.raises(ConfigError, match="--crop X0,Y0,W,H and --pool N"):
        resolve_geometry(inp, (20, 20))  # smaller than the box
    with pytest.raises(ConfigError, match="gives 16x16 frames but the model takes 17x17"):
        resolve_geometry(inp, (64, 48), crop=(0, 0, 32, 32), pool=2)
    with pytest.raises(ConfigError, match="not inside"):
        resolve_geometry(inp, (34, 34), crop=(20, 0, 34, 34))
    with pytest.raises(ConfigError, match="pool must be"):
        Geometry((34, 34), (0, 0, 33, 34), 0)


def test_geometry_keeps_a_partial_last_block():
    # training pools with ceil: x // pool on a crop of 35 gives 18 columns
    ev = random_events(5_000, 1_000, seed=10, size=(35, 33))
    g = Geometry((35, 33), (0, 0, 35, 33), pool=2)
    assert g.input_shape == (2, 17, 18)
    image = accumulate(ev, np.array([0]), np.array([len(ev)]), (35, 33))
    pooled = ev.copy()
    pooled["x"] //= 2
    pooled["y"] //= 2
    train = accumulate(pooled, np.array([0]), np.array([len(ev)]), (18, 17))
    np.testing.assert_array_equal(g.apply(image), train)


def test_bin_width_from_the_checkpoint_or_given():
    assert bin_width_us(tiny_record().input) == BIN_US
    assert bin_width_us(tiny_record().input, 2.5) == 2500
    with pytest.raises(ConfigError, match="--bin-ms"):
        bin_width_us({"step_us": None, "duration_us": None})


# -- the model, step by step ----------------------------------------------------------------


def test_step_equals_multistep_and_outputs_are_not_zero(ckpt):
    model, record = load_model(ckpt)
    stream, labels = digit_stream([1400, 1401, 1402])
    config = EngineConfig(bin_us=BIN_US)
    results = run_offline(model, stream, SENSOR, config, record=record)
    # the same bins through the multi-step forward ([T, N, C, H, W], time first)
    x = torch.from_numpy(np.stack([r.input for r in results]))[:, None]
    with torch.no_grad():
        seq, _ = model.forward_steps(x)
    np.testing.assert_allclose(np.stack([r.scores for r in results]), seq[:, 0].numpy(), atol=1e-6)
    scores = np.stack([r.scores for r in results])
    assert scores.shape == (len(results), 10) and scores.sum() > 10  # the network fires
    # the input is the digit's events: counts add up, nothing is lost to the geometry
    assert sum(r.input.sum() for r in results) == len(stream)
    assert results[0].t_start_us == labels[0][0] and results[1].t_start_us == labels[0][0] + BIN_US


def test_rsnn_scores_are_its_per_step_log_probabilities():
    # the Norse RSNN: each step's output is the log-softmax of the running maximum (its
    # decision so far), equal to its multi-step `run`; the decision layer reads log-probs
    torch.manual_seed(0)
    model = models.create("rsnn_pokerdvs").eval()
    inp = input_record("frames", sensor_size=[35, 35], height=35, width=35, split_by="duration",
                       duration_us=1000, step_us=1000)  # fmt: skip
    record = ModelRecord("rsnn_pokerdvs", {}, ["c", "d", "h", "s"], inp)
    ev = random_events(3_000, 40_000, seed=9, size=(35, 35))
    results = run_offline(model, ev, (35, 35), EngineConfig(bin_us=1000), record=record)
    x = torch.from_numpy(np.stack([r.input for r in results]))[None]
    with torch.no_grad():
        expected = model.run(x)[0][0].numpy()
    np.testing.assert_allclose(np.stack([r.scores for r in results]), expected, atol=1e-5)
    np.testing.assert_allclose(np.exp(results[-1].scores).sum(), 1.0, rtol=1e-5)
    avg = np.mean([probabilities(r.scores, "log_probs") for r in results[-5:]], 0)
    want = int(np.argmax(avg)) if avg.max() >= 0.5 else None
    assert results[-1].decision_index == want
    assert results[-1].confidence == pytest.approx(avg.max())


def test_strict_loading_refuses_mismatched_weights(tmp_path):
    record = tiny_record()
    wrong = models.create("plifnet_ndigits", input_size=(17, 17), n_down=0, hidden=(32,))
    path = tmp_path / "wrong.ckpt"
    save_model(path, wrong, record)  # the record says hidden 64, the weights have 32
    with pytest.raises(ConfigError, match="do not fit"):
        Engine.from_checkpoint(path, ListSource([]))


def test_token_models_are_refused(tmp_path):
    inp = input_record("tokens", sensor_size=[240, 180], num_events=255, norm_t="dataset",
                       t_scale=521_217, sampler="random")  # fmt: skip
    record = ModelRecord("event2vec_asldvs", {}, [], inp)
    with pytest.raises(ConfigError, match="eats tokens"):
        Engine(models.create("event2vec_asldvs"), record, ListSource([]),
               config=EngineConfig(bin_us=1000))  # fmt: skip


def _fresh_scores(model, inputs) -> np.ndarray:
    x = torch.from_numpy(np.stack(inputs))[:, None]
    with torch.no_grad():
        return model.forward_steps(x)[0][:, 0].numpy()


def test_reset_every_k_bins(ckpt):
    model, record = load_model(ckpt)
    stream, _ = digit_stream([1403])
    config = EngineConfig(bin_us=BIN_US, reset=ResetPolicy.parse("every:7"))
    results = run_offline(model, stream, SENSOR, config, record=record)
    assert [r.reset for r in results] == [r.index % 7 == 0 and r.index > 0 for r in results]
    for lo in range(0, len(results), 7):
        part = results[lo : lo + 7]
        got = np.stack([r.scores for r in part])
        np.testing.assert_allclose(got, _fresh_scores(model, [r.input for r in part]), atol=1e-6)


def test_reset_when_idle_skips_the_gap(ckpt):
    model, record = load_model(ckpt)
    stream, labels = digit_stream([1404, 1405], gap_us=200_000)
    idle = EngineConfig(bin_us=BIN_US, reset=ResetPolicy.parse("idle:100"))
    results = run_offline(model, stream, SENSOR, idle, record=record)
    # 100 ms without events: 9 empty bins stepped, the 10th resets and says "none" (not run)
    (q,) = [i for i, r in enumerate(results) if r.reset]
    quiet = results[q]
    last_busy = max(i for i, r in enumerate(results[:q]) if r.n_events)
    assert q - last_busy == 10 and quiet.index == results[last_busy].index + 10
    assert quiet.n_events == 0 and quiet.decision is None and not quiet.scores.any()
    assert all(r.n_events == 0 and not r.reset for r in results[last_busy + 1 : q])
    # the rest of the gap is skipped; the second digit starts from rest
    second = results[q + 1 :]
    assert second[0].n_events > 0 and second[0].t_end_us > labels[1][0]
    np.testing.assert_allclose(
        np.stack([r.scores for r in second]), _fresh_scores(model, [r.input for r in second]),
        atol=1e-6,
    )  # fmt: skip
    # without the policy the 200 ms gap (under the 300 ms quiet limit) is stepped bin by bin
    plain = run_offline(model, stream, SENSOR, EngineConfig(bin_us=BIN_US), record=record)
    assert not any(r.reset for r in plain)
    assert len(plain) > len(results)
    assert sum(r.n_events == 0 for r in plain) >= 19


def test_reset_window_is_the_clip_forward(ckpt):
    model, record = load_model(ckpt)
    stream, _ = digit_stream([1406])
    config = EngineConfig(bin_us=BIN_US, reset=ResetPolicy.parse("window:5"))
    results = run_offline(model, stream, SENSOR, config, record=record)
    inputs = [r.input for r in results]
    with torch.no_grad():
        for k in (0, 3, 12, len(results) - 1):
            clip = torch.from_numpy(np.stack(inputs[max(0, k - 4) : k + 1]))[None]
            np.testing.assert_allclose(results[k].scores, model(clip)[0].numpy(), atol=1e-6)


def test_reset_policy_parse_errors():
    assert str(ResetPolicy.parse("idle:250")) == "idle:250"
    for bad in ("idle", "every:x", "sometimes:3", "window:0"):
        with pytest.raises(ConfigError):
            ResetPolicy.parse(bad)


# -- the engine with threads: equal to offline, bounded when behind ---------------------------


def test_engine_equals_offline_and_observers_see_every_bin(ckpt):
    model, record = load_model(ckpt)
    stream, _ = digit_stream([1407, 1408])
    config = EngineConfig(bin_us=BIN_US, overflow="block", queue_bins=2)
    offline = run_offline(model, stream, SENSOR, config, record=record)
    seen = []
    engine = Engine.from_checkpoint(
        ckpt, ListSource(split_randomly(stream, 40, 3)), config=config, observers=[seen.append]
    )
    summary = engine.run()
    assert [r.index for r in seen] == [r.index for r in offline]
    np.testing.assert_array_equal(np.stack([r.scores for r in seen]),
                                  np.stack([r.scores for r in offline]))  # fmt: skip
    assert [r.decision for r in seen] == [r.decision for r in offline]
    assert summary["dropped_bins"] == 0 and summary["events"] == len(stream)
    assert summary["bins"] == len(seen) and summary["max_backlog"] <= 2
    first = seen[0]
    assert first.image is not None and first.image.shape == (2, 34, 34)
    assert first.image.sum() == first.n_events and first.input.shape == (2, 17, 17)
    assert set(first.to_json()) >= {"t_start_us", "t_end_us", "scores", "decision",
                                    "latency_ms", "dropped_events"}  # fmt: skip
    assert all(r.latency_ms > 0 for r in seen if r.n_events)


class _Slow(torch.nn.Module):
    """A model that takes ``delay`` seconds per step (inference slower than the input)."""

    def __init__(self, inner, delay):
        super().__init__()
        self.inner, self.delay = inner, delay

    def init_state(self, batch):
        return self.inner.init_state(batch)

    def step(self, x, state):
        time.sleep(self.delay)
        return self.inner.step(x, state)


def test_input_faster_than_inference_is_bounded_and_counted(ckpt):
    model, record = load_model(ckpt)
    stream = random_events(40_000, 2_000_000, seed=7)  # 200 bins arriving at once
    chunks = split_randomly(stream, 100, 0)
    seen, backlog = [], []

    def observe(r):
        seen.append(r)
        backlog.append(engine.metrics.backlog)

    engine = Engine(_Slow(model, 0.004), record, ListSource(chunks, pause_s=0.0005),
                    config=EngineConfig(bin_us=BIN_US, queue_bins=4),
                    observers=[observe])  # fmt: skip
    summary = engine.run()
    assert max(backlog) <= 4 and summary["max_backlog"] <= 4
    assert summary["dropped_bins"] > 50
    assert len(seen) + summary["dropped_bins"] == 200  # every bin processed or counted
    assert sum(r.n_events for r in seen) + summary["dropped_events"] == len(stream)
    assert sum(r.dropped_events for r in seen) <= summary["dropped_events"]
    # a bin waits behind at most the queue: latency stays near queue_bins x step time
    assert summary["latency_ms"]["total"]["p50"] < 2_000


def test_a_restarted_stream_resets_the_network(ckpt):
    # a server that restarts mid-stream replays from its start: times jump back, the grid
    # restarts there and the network starts from rest (what it gives offline on that part)
    model, record = load_model(ckpt)
    first, _ = digit_stream(range(1409, 1413))  # 1.4 s, then back to its start (> rewind_us)
    again, _ = digit_stream([1409, 1410])
    seen: list = []
    source = ListSource([first, again])
    summary = Engine(model, record, source, config=EngineConfig(bin_us=BIN_US, overflow="block"),
                     observers=[seen.append]).run()  # fmt: skip
    restart = next(i for i, r in enumerate(seen) if r.reset)
    assert summary["restarts"] == 1 and seen[restart].index == 0
    fresh = run_offline(model, again, SENSOR, EngineConfig(bin_us=BIN_US), record=record)
    after = seen[restart:]
    assert [r.index for r in after] == [r.index for r in fresh]
    np.testing.assert_array_equal(np.stack([r.scores for r in after]),
                                  np.stack([r.scores for r in fresh]))  # fmt: skip


def test_engine_stop_from_another_thread_and_duration(ckpt):
    stream = random_events(2_000, 10_000_000, seed=8)
    source = ListSource(split_randomly(stream, 1000, 0), pause_s=0.01)  # ~10 s if not stopped
    engine = Engine.from_checkpoint(ckpt, source, config=EngineConfig(bin_us=BIN_US))
    timer = threading.Timer(0.3, engine.stop)
    timer.start()
    start = time.monotonic()
    engine.run()
    assert time.monotonic() - start < 5 and source._closed.is_set()
    source2 = ListSource(split_randomly(stream, 1000, 0), pause_s=0.01)
    engine2 = Engine.from_checkpoint(ckpt, source2, config=EngineConfig(bin_us=BIN_US))
    start = time.monotonic()
    engine2.run(duration_s=0.3)
    assert time.monotonic() - start < 5


def test_source_errors_reach_the_caller(ckpt):
    class Broken(ListSource):
        def __iter__(self):
            yield EventChunk(random_events(10, 1000), time.monotonic_ns())
            raise OSError("the camera went away")

    engine = Engine.from_checkpoint(ckpt, Broken([]), config=EngineConfig(bin_us=BIN_US))
    with pytest.raises(OSError, match="went away"):
        engine.run()


def test_engine_needs_a_sensor_size(ckpt):
    with pytest.raises(ConfigError, match="--sensor-size"):
        Engine.from_checkpoint(ckpt, ListSource([], sensor_size=None))


# -- decisions and metrics ------------------------------------------------------------------


def test_decider_rates_threshold_and_none():
    d = Decider(["a", "b", "c"], "rates", window=2, threshold=0.6)
    assert d.update(np.zeros(3)).label is None  # nothing fired: "none"
    assert d.update(np.array([0.0, 0.9, 0.1])).label is None  # average 0.45 < 0.6
    dec = d.update(np.array([0.0, 0.8, 0.0]))
    assert dec.label == "b" and dec.index == 1 and dec.confidence == pytest.approx(0.95)
    d.reset()
    # after a reset the window's unseen bins are no evidence: one bin gives at most 1/2
    first = d.update(np.array([0.3, 0.0, 0.0]))
    assert first.label is None and first.confidence == pytest.approx(0.5)
    assert d.update(np.array([0.01, 0.0, 0.0])).label == "a"
    strict = Decider(["a", "b"], "rates", window=2, threshold=0.5, min_rate=0.05)
    assert strict.update(np.array([0.04, 0.0])).confidence == 0.0  # too weak: no evidence
    np.testing.assert_allclose(probabilities(np.log([0.2, 0.3, 0.5]), "log_probs"), [0.2, 0.3, 0.5])
    np.testing.assert_allclose(probabilities(np.zeros(4), "logits"), 0.25)
    with pytest.raises(ConfigError):
        Decider(["a"], "rates", threshold=2.0)


def test_metrics_percentiles_and_bounded_history():
    m = Metrics(history=100)
    for v in range(1000):
        m.latency("total", float(v))
    p = m.percentiles("total")
    assert p["max"] == 999.0 and p["p50"] == pytest.approx(949.5)  # only the last 100 kept
    m.add("events", 5)
    assert m.summary()["events"] == 5
    assert "p99" in m.format()
    assert np.isnan(Metrics().percentiles("infer")["p50"])


def test_empty_chunks_and_dtype():
    assert Binner(1000, SENSOR).push(np.empty(0, dtype=EVENT_DTYPE)) == []


# -- review fixes ---------------------------------------------------------------------------


def test_engine_config_refuses_bad_values():
    # these checks sat after a return (dead): overflow='dropp' was accepted, threads=0 crashed
    for kwargs, match in (
        ({"overflow": "dropp"}, "overflow"),
        ({"threads": 0}, "threads"),
        ({"max_empty_steps": -1}, "max_empty_steps"),
    ):
        with pytest.raises(ConfigError, match=match):
            EngineConfig(bin_us=1000, **kwargs)


class _Stubborn(ListSource):
    """Yields one chunk, then ignores close() for ``block_s`` (a source that never unblocks)."""

    def __init__(self, chunks, block_s):
        super().__init__(chunks)
        self.block_s = block_s

    def __iter__(self):
        yield EventChunk(self.chunks[0], time.monotonic_ns())
        time.sleep(self.block_s)


def test_run_reports_a_receive_thread_that_does_not_end(ckpt):
    from spikestream.errors import StreamError

    engine = Engine.from_checkpoint(ckpt, _Stubborn([random_events(10, 1000)], 2.0),
                                    config=EngineConfig(bin_us=BIN_US))  # fmt: skip
    engine.join_timeout_s = 0.2
    with pytest.raises(StreamError, match=r"did not end within 0\.2 s"):
        engine.run(duration_s=0.2)


def test_the_chunk_in_hand_at_a_stop_reaches_the_hooks(ckpt):
    # the source hands over a chunk after stop() closed it: --record must still get it
    a, b = random_events(50, 5000, seed=1), random_events(50, 5000, seed=2)
    b["t"] += 10_000

    class Late(ListSource):
        def __iter__(self):
            yield EventChunk(a, time.monotonic_ns())
            self._closed.wait(10)
            yield EventChunk(b, time.monotonic_ns())

    got: list = []
    engine = Engine.from_checkpoint(ckpt, Late([]), config=EngineConfig(bin_us=BIN_US),
                                    chunk_hooks=[got.append])  # fmt: skip
    timer = threading.Timer(0.3, engine.stop)
    timer.start()
    engine.run()
    timer.join()
    assert [len(c) for c in got] == [50, 50] and got[1] is b


def test_the_clock_closes_bins_and_falls_to_none_in_silence(ckpt, monkeypatch):
    # a live source (speed 1): events for 25 ms, then a second of silence, then more. With a
    # fake wall clock: the last busy bin closes when its end was due (+ grace), not when the
    # next event comes; the empty bins after it are stepped up to the quiet limit (300 ms),
    # which resets and says "none"; the rest of the silence is skipped, not stepped in a burst
    import spikestream.live.engine as engine_mod

    now = [0]
    monkeypatch.setattr(engine_mod.time, "monotonic_ns", lambda: now[0])
    resume = threading.Event()
    a = random_events(3_000, 25_000, seed=11)
    b = random_events(300, 5_000, seed=12)
    b["t"] += 2_000_000

    class Live(ListSource):
        speed = 1.0

        def __iter__(self):
            now[0] = 25_000_000
            yield EventChunk(a, now[0])
            now[0] = 1_025_000_000  # a second later, nothing came
            resume.wait(20)
            now[0] = 2_005_000_000
            yield EventChunk(b, now[0])

    seen: list = []
    # "block": the second's 31 bins come in one tick (the fake clock jumps); nothing dropped
    config = EngineConfig(bin_us=BIN_US, overflow="block")
    engine = Engine.from_checkpoint(ckpt, Live([]), config=config, observers=[seen.append])

    def release() -> None:
        deadline = time.monotonic() + 20
        while len(seen) < 34 and time.monotonic() < deadline:
            time.sleep(0.01)
        resume.set()

    helper = threading.Thread(target=release, daemon=True)
    helper.start()
    summary = engine.run()
    helper.join(5)
    assert [r.index for r in seen] == [*range(34), 200]
    assert [r.n_events > 0 for r in seen[:3]] == [True] * 3 and seen[-1].n_events == 300
    # bin 2 (20-30 ms) was due at 30 ms and closed by the clock at 1.025 s: its latency is
    # measured from its due time (it was 1.6 ms when measured from the last arrival)
    assert seen[2].latency_ms == pytest.approx(995.0, abs=1.0)
    assert all(r.n_events == 0 and not r.reset for r in seen[3:33])
    quiet = seen[33]
    assert quiet.reset and quiet.decision is None and quiet.confidence == 0.0
    assert not seen[-1].reset and summary["skipped_bins"] == 200 - 34
    # bin 200 starts from rest: as a fresh run on its input
    np.testing.assert_allclose(seen[-1].scores, _fresh_scores(engine.model, [seen[-1].input])[0],
                               atol=1e-6)  # fmt: skip


def test_dropped_bins_reset_the_state_and_every_k_still_resets(ckpt):
    model, record = load_model(ckpt)
    config = EngineConfig(bin_us=BIN_US, reset=ResetPolicy.parse("every:7"), queue_bins=2,
                          speed=None)  # fmt: skip
    engine = Engine(model, record, ListSource([]), config=config)
    ev = random_events(6_000, 300_000, seed=13)
    bins = _bins(Binner(BIN_US, SENSOR), [ev])
    assert [b.index for b in bins] == list(range(30))
    taken = []
    for i, b in enumerate(bins):  # inference keeps up with one bin in three
        engine._put(b)
        if i % 3 == 2:
            taken.append(engine._get(0))
    taken += list(engine._queue)
    with torch.inference_mode():
        results = [r for b in taken for r in engine.runner.process(b)]
    assert sum(r.dropped_bins for r in results) == engine.metrics.counters["dropped_bins"] > 5
    assert sum(r.n_events + r.dropped_events for r in results) == len(ev)
    prev = None
    for r in results:  # a reset after each hole and at each new block of 7 indices
        want = r.dropped_bins > 0 or (prev is not None and r.index // 7 != prev.index // 7)
        assert r.reset == want, (r.index, r.dropped_bins)
        prev = r
    starts = [i for i, r in enumerate(results) if r.reset or i == 0] + [len(results)]
    for lo, hi in itertools.pairwise(starts):  # each stretch from rest
        part = results[lo:hi]
        fresh = _fresh_scores(model, [r.input for r in part])
        np.testing.assert_allclose(np.stack([r.scores for r in part]), fresh, atol=1e-6)


def test_the_queue_is_bounded_in_bytes(ckpt):
    model, record = load_model(ckpt)
    size = (1280, 720)
    config = EngineConfig(bin_us=BIN_US, queue_bins=1000, queue_mb=8, speed=None)
    engine = Engine(model, record, ListSource([], sensor_size=size), config=config)
    ev = random_events(20_000, 100_000, seed=14, size=size)
    bins = _bins(Binner(BIN_US, size), [ev])
    assert bins[0].image.dtype == np.uint16 and bins[0].nbytes == 2 * 720 * 1280 * 2
    for b in bins:
        engine._put(b)
        assert engine._queued_bytes <= 8 << 20 and len(engine._queue) <= 2
    assert engine.metrics.counters["dropped_bins"] == len(bins) - 2


def test_count_binned_models_get_a_binning_warning():
    from spikestream.live.engine import BinningWarning

    quick = {"split_by": "number", "frames_number": 8, "step_us": 37_500.0}
    with pytest.warns(BinningWarning, match=r"split by number.*37\.5 ms.*--bin-ms"):
        assert bin_width_us(quick) == 37_500
    with pytest.warns(BinningWarning, match=r"bins of 5 ms \(--bin-ms\)"):
        assert bin_width_us(quick, 5.0) == 5_000
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bin_width_us(tiny_record().input) == BIN_US  # trained on fixed bins: silent
        assert bin_width_us(quick, warn=False) == 37_500


def test_one_geometry_helper_equals_trainings_path():
    # transforms.functional.geometry: what train.data computed (its _input_size, _Geometry and
    # pool_events) and what the live engine computes, from one definition
    pytest.importorskip("lightning")
    from spikestream.train import data as train_data
    from spikestream.transforms.functional import geometry as G

    sensor = (35, 33)
    ev = random_events(8_000, 1_000, seed=15, size=sensor)
    for crop, pool in ((None, 1), (None, 2), ((3, 1, 29, 31), 3), ((0, 0, 35, 33), 4)):
        old = train_data._Geometry(list(crop) if crop else None, pool)(ev)
        new = G.crop_pool_events(ev, crop, pool)
        np.testing.assert_array_equal(new, old)
        size = G.input_size(sensor, crop, pool)
        module = object.__new__(train_data.EventDataModule)
        module.sensor_size = sensor
        assert size == train_data.EventDataModule._input_size(module, crop, pool)
        # live: count on the sensor, then crop+pool the image == count the moved events
        image = accumulate(ev, np.array([0]), np.array([len(ev)]), sensor)
        box = G.check_box(crop, sensor, pool)
        counts = accumulate(new, np.array([0]), np.array([len(new)]), size)
        np.testing.assert_array_equal(G.crop_pool_counts(image, box, pool), counts)
        assert Geometry(sensor, box, pool).apply(image).shape == (1, 2, size[1], size[0])
    for bad in ((30, 0, 10, 10), (0, 0, 0, 5), (1, 2, 3)):
        with pytest.raises(ConfigError):
            G.input_size(sensor, bad, 1)
    with pytest.raises(ConfigError, match="pool"):
        G.input_size(sensor, None, 0)


def test_threads_are_restored_when_the_warm_up_fails(ckpt):
    class Failing(torch.nn.Module):
        def init_state(self, batch):
            return None

        def step(self, x, state):
            raise RuntimeError("no step today")

    _, record = load_model(ckpt)
    before = torch.get_num_threads()
    want = 2 if before != 2 else 3
    engine = Engine(Failing(), record, ListSource([]),
                    config=EngineConfig(bin_us=BIN_US, threads=want))  # fmt: skip
    with pytest.raises(RuntimeError, match="no step today"):
        engine.run()
    assert torch.get_num_threads() == before
