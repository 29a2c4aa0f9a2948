"""Online learning on a labelled NDigits stream: held-back accuracy rises from a poor start,
inference keeps running while the learner trains, checkpoints are written; the label sources."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch

from spikestream.errors import ConfigError
from spikestream.live import Engine, EngineConfig
from spikestream.live.learn import KeyLabels, LabelFile, LearnConfig, OnlineLearner
from spikestream.models.checkpoint import load_model, save_model

from .test_live_engine import (
    BIN_US,
    ListSource,
    digit_stream,
    split_randomly,
    tiny_model,
    tiny_record,
)


def _wait_for(condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the learner took no steps"
        time.sleep(0.01)


def _labels_csv(path, labels) -> None:
    lines = ["t_start_us,t_end_us,label"] + [f"{a},{b},{c}" for a, b, c in labels]
    path.write_text("\n".join(lines) + "\n")


def test_learning_improves_held_back_accuracy(tmp_path):
    record = tiny_record()
    start = tmp_path / "start.ckpt"
    save_model(start, tiny_model(seed=1), record)  # untrained: a poor start
    stream, labels = digit_stream(range(150))
    _labels_csv(tmp_path / "labels.csv", labels)
    model, record = load_model(start)
    labels_file = LabelFile(tmp_path / "labels.csv", record.classes)
    learn = LearnConfig(window=15, lr=3e-3, batch=16, save_every_s=0.5)
    learner = OnlineLearner(model, record, labels_file, tmp_path / "learned.ckpt", learn).start()
    # halfway, the stream waits for the learner's first steps: it trains while inference runs
    # (not left to the CPU share of two threads)
    chunks = split_randomly(stream, 300, 0)

    class Gated(ListSource):
        def __iter__(self):
            for i, chunk in enumerate(super().__iter__()):
                if i == 150:
                    _wait_for(lambda: learner.stats["steps"] >= 5)
                yield chunk

    config = EngineConfig(bin_us=BIN_US, overflow="block", threads=1)
    engine = Engine(model, record, Gated(chunks), config=config, learner=learner)
    summary = engine.run()
    _wait_for(lambda: learner.stats["steps"] >= 40)  # then enough steps to compare
    report = learner.stop()
    assert report["held_back_windows"] >= 25 and report["train_windows"] >= 100
    assert report["accuracy_after"] > report["accuracy_before"] + 0.15, report
    # inference went on after the learner's first steps, and took its weights between bins
    steps = learner.stats["bins_at_step"]
    assert report["steps"] >= 40 and steps[0] < summary["bins"] - 1000
    assert summary["weight_swaps"] > 0 and summary["bins"] == learner.stats["bins_seen"]
    assert summary["weight_swaps"] == learner.stats["swaps"]
    # checkpoints as it goes and at the end: the contract, loadable, the learned weights
    assert report["checkpoints"] >= 2
    learned, rec2 = load_model(tmp_path / "learned.ckpt")
    assert rec2 == record
    for (k, a), b in zip(
        learned.state_dict().items(), learner.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    assert "before" in learner.format_report() and "after" in learner.format_report()


def test_label_file(tmp_path):
    classes = ["zero", "one", "two"]
    path = tmp_path / "l.csv"
    path.write_text("t_start_us,t_end_us,label\n# a comment\n100,200,1\n300,400,two\n0,50,0\n")
    lab = LabelFile(path, classes)
    assert len(lab) == 3
    assert lab.label(100, 150) == 1 and lab.label(150, 200) == 1
    assert lab.label(150, 250) is None  # not wholly inside a range
    assert lab.label(300, 310) == 2 and lab.label(10, 20) == 0 and lab.label(60, 70) is None
    for text, match in (
        ("1,2\n", "expected"),
        ("5,5,1\n", "not after"),
        ("0,10,7\n", "outside"),
        ("0,10,cat\n", "neither"),
        ("0,10,1\n5,20,1\n", "overlap"),
        ("0,10,1\nx,20,1\n", "whole"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=match):
            LabelFile(path, classes)
    with pytest.raises(ConfigError, match="no such labels file"):
        LabelFile(tmp_path / "missing.csv", classes)


def test_key_labels_apply_from_now_until_the_next_key():
    keys = KeyLabels(["a", "b"], stream=io.StringIO(""), echo=False)
    assert keys.label(0, 10) is None
    keys.note_time(1000)
    keys.set(1)
    assert keys.label(1000, 1010) == 1 and keys.label(5000, 5010) == 1
    assert keys.label(990, 1010) is None  # changed inside the bin
    keys.note_time(2000)
    keys.set(None)
    assert keys.label(2000, 2010) is None and keys.label(1500, 1510) == 1
    # lines from a stream: a class name, an index, "-" (read by the thread)
    typed = KeyLabels(["a", "b"], stream=io.StringIO("b\nnonsense\n"), echo=False)
    typed.thread.join(5)
    assert typed.label(0, 10) == 1


def test_learn_config_checks():
    with pytest.raises(ConfigError, match="window"):
        LearnConfig(window=0)
    with pytest.raises(ConfigError, match="learning rate"):
        LearnConfig(lr=5.0)


class _R:
    def __init__(self, i, value=None):
        self.index, self.t_start_us, self.t_end_us = i, i * 1000, (i + 1) * 1000
        self.input = np.full((2, 17, 17), i if value is None else value, dtype=np.float32)


def test_learner_holds_back_whole_label_ranges(tmp_path):
    # every 5th labelled range goes to the held-back set whole: its windows never train (every
    # 5th window of the same recording was held back before: near copies of training windows)
    record = tiny_record()
    path = tmp_path / "l.csv"
    path.write_text("".join(f"{k * 10_000},{(k + 1) * 10_000},{k % 10}\n" for k in range(10)))
    learner = OnlineLearner(tiny_model(), record, LabelFile(path, record.classes),
                            tmp_path / "o.ckpt", LearnConfig(window=2))  # fmt: skip
    for i in range(100):  # 10 ranges of 10 bins: 5 windows each
        learner.observe(_R(i))
    held = {int(w[0, 0, 0, 0]) // 10 for w, _ in learner._holdout.items}
    trained = {int(w[0, 0, 0, 0]) // 10 for w, _ in learner._buffer.items}
    assert held == {4, 9} and trained == set(range(10)) - {4, 9}
    assert learner.stats["held_back"] == 10 and learner.stats["windows"] == 40
    assert sorted({lab for _, lab in learner._holdout.items}) == [4, 9]
    learner.observe(_R(140))  # a jump in bins starts a new window (no range there: unlabelled)
    assert learner.stats["windows"] == 40
    assert learner.report()["steps"] == 0 and learner.stop()["checkpoint"] is None


def test_learner_buffers_are_bounded_in_bytes(tmp_path):
    record = tiny_record()
    path = tmp_path / "l.csv"
    path.write_text("0,1000000,3\n")
    config = LearnConfig(window=2, buffer=512, buffer_mb=0.01, holdout_every=1000)
    learner = OnlineLearner(tiny_model(), record, LabelFile(path, record.classes),
                            tmp_path / "o.ckpt", config)  # fmt: skip
    for i in range(40):
        learner.observe(_R(i))
    window_bytes = 2 * 2 * 17 * 17 * 2  # uint16 counts
    assert all(w.dtype == np.uint16 for w, _ in learner._buffer.items)
    assert len(learner._buffer) == (10 << 20) // 1000 // window_bytes  # 0.01 MiB
    assert learner._buffer.nbytes <= 0.01 * (1 << 20) and learner.stats["windows"] == 20
    # the oldest left first; a window that is not counts stays float32
    assert int(learner._buffer.items[-1][0][-1, 0, 0, 0]) == 39
    learner.observe(_R(100, value=0.5))
    learner.observe(_R(101, value=0.5))
    assert learner._buffer.items[-1][0].dtype == np.float32
