"""``spikestream fit | validate | test | predict`` through spikestream's own entry point: JSON
lines from predict, one-line errors with exit status 2, packaged config names, AMP on a CPU."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("lightning")

from spikestream.cli import main

from .test_train import ndigits, tiny_config  # noqa: F401  # the session fixture


def _one_error_line(err: str, *fragments: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.startswith("spikestream: error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0]


def test_fit_then_predict_json_lines(ndigits, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    config = str(tiny_config(tmp_path, ndigits))
    assert main(["fit", "--config", config]) == 0
    ckpts = tmp_path / "runs" / "tiny" / "version_0" / "checkpoints"
    assert (ckpts / "last.ckpt").is_file()
    capsys.readouterr()

    out = tmp_path / "pred.jsonl"
    assert (
        main(["predict", "--config", config, "--ckpt_path", "last", "--predict_out", str(out)]) == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 32  # limit_samples of the test split, one line each
    assert {tuple(sorted(r)) for r in rows} == {("index", "label", "name", "scores")}
    assert all(len(r["scores"]) == 10 and 0 <= r["label"] < 10 for r in rows)
    assert [r["index"] for r in rows] == list(range(32))
    assert len({r["name"] for r in rows}) == 32

    # to stdout: nothing but the JSON lines there (no progress bar)
    assert main(["predict", "--config", config, "--ckpt_path", "best"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 32 and all(len(json.loads(ln)["scores"]) == 10 for ln in lines)

    # test: the same run, scores logged, the run's config kept and a second one saved
    assert main(["test", "--config", config, "--ckpt_path", "last"]) == 0
    run = ckpts.parent
    assert (run / "config.yaml").is_file() and (run / "config.test.yaml").is_file()
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]


def test_errors_are_one_line_with_status_2(ndigits, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    config = str(tiny_config(tmp_path, ndigits))
    cases = [
        (["fit", "--config", "nope"], ["--config nope", "quickstart"]),
        (["fit", "--config", config, "--model.model", "nope"], ["no model named 'nope'"]),
        (["fit", "--config", config, "--data.dataset", "nope"], ["--data.dataset"]),
        (["fit", "--config", config, "--model.nope", "1"], ["nope"]),
        (
            ["validate", "--config", config, "--ckpt_path", "last"],
            ["--ckpt_path last", "train first"],
        ),
        (["test", "--config", config, "--ckpt_path", str(tmp_path / "x.ckpt")], ["no such"]),
        (["fit", "--resume", str(tmp_path)], ["--resume", "config.yaml"]),
    ]
    for argv, fragments in cases:
        assert main(argv) == 2, argv
        _one_error_line(capsys.readouterr().err, *fragments)
    assert not (tmp_path / "runs").exists()


def test_help_print_config_and_amp_on_cpu(ndigits, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", "quickstart", "--print_config"])
    assert exc.value.code == 0
    assert "dataset: ndigits" in capsys.readouterr().out  # the packaged recipe, by name
    # fp16 AMP is CUDA-only: a CPU run takes bf16-mixed instead, decided without initialising
    # CUDA (torch.cuda.is_available would; ddp_fork forbids that before the fork)
    import torch

    from spikestream.train.cli import run_cli

    def no_cuda_init() -> bool:
        raise AssertionError("torch.cuda.is_available() called before the trainer")

    monkeypatch.setattr(torch.cuda, "is_available", no_cuda_init)
    config = str(tiny_config(tmp_path, ndigits))
    argv = ["--config", config, "--trainer.precision", "16-mixed", "--trainer.logger", "false",
            "--trainer.accelerator", "auto"]  # fmt: skip
    with pytest.warns(UserWarning, match="bf16-mixed"):
        cli = run_cli("fit", argv, run=False)
    monkeypatch.undo()
    assert cli.trainer.precision == "bf16-mixed"
