"""The main job on embedded data: NDigits -> frames -> csnn_ndigits -> test accuracy -> a
checkpoint that classifies recordings on its own. A shortened recipe (the full one is
`benchmarks/quickstart.py`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from spikestream.errors import ConfigError
from spikestream.models import create
from spikestream.models.checkpoint import read_record
from spikestream.train.quickstart import (
    RECIPE,
    Recipe,
    classify_from_checkpoint,
    train_on_ndigits,
    translate_frames,
)


def test_quickstart_learns_ndigits_and_its_checkpoint_classifies(ndigits_root, tmp_path):
    """Two epochs of the recipe already classify most test digits (chance is 10 %); the saved
    checkpoint, loaded back without the training code, gives the trained model's decisions."""
    from spikestream.datasets.ndigits import NDigits

    ckpt = tmp_path / "quick.ckpt"
    result = train_on_ndigits(ndigits_root, epochs=2, seed=0, checkpoint=ckpt)
    assert result["accuracy"] > 0.6
    assert result["losses"][1] < result["losses"][0] < 2.31  # ln(10): the untrained loss
    assert (result["train_samples"], result["test_samples"]) == (1438, 359)

    record = read_record(ckpt)
    assert record.name == "csnn_ndigits" and record.classes == [str(d) for d in range(10)]
    assert record.input["frames_number"] == 8 and record.input["split_by"] == "number"
    assert record.input["height"] == record.input["width"] == 34
    assert 30_000 < record.input["step_us"] < 40_000  # ~300 ms recordings in 8 frames

    test = NDigits(ndigits_root, train=False)
    picks = list(range(0, len(test), 12))
    decisions = classify_from_checkpoint(ckpt, [test[i][0] for i in picks])
    from spikestream.transforms.functional import to_frames

    frames = torch.from_numpy(
        np.stack([to_frames(test[i][0], (34, 34), n_frames=8) for i in picks])
    )
    with torch.no_grad():
        expected = result["model"](frames)
    assert [d.label for d in decisions] == expected.argmax(1).tolist()
    np.testing.assert_allclose(
        [d.scores for d in decisions], expected.numpy(), rtol=1e-5, atol=1e-6
    )
    assert all(d.name == str(d.label) for d in decisions)
    right = sum(d.label == test[i][1] for d, i in zip(decisions, picks, strict=True))
    assert right >= 0.5 * len(picks)


def test_quickstart_is_deterministic_for_a_seed(ndigits_root):
    short = dict(epochs=1, train_limit=128)
    first = train_on_ndigits(ndigits_root, seed=5, **short)
    again = train_on_ndigits(ndigits_root, seed=5, **short)
    other = train_on_ndigits(ndigits_root, seed=6, **short)
    assert first["losses"] == again["losses"] and first["accuracy"] == again["accuracy"]
    assert first["losses"] != other["losses"]
    weights = first["model"].state_dict(), again["model"].state_dict()
    assert all(torch.equal(a, weights[1][k]) for k, a in weights[0].items())


def test_translate_frames_moves_whole_samples():
    x = torch.zeros(64, 3, 2, 10, 10)
    x[:, :, :, 4, 5] = 1.0  # one lit pixel, every step and channel
    gen = torch.Generator().manual_seed(0)
    out = translate_frames(x, 2, gen)
    assert out.shape == x.shape and out.sum() == x.sum()  # nothing leaves a 10x10 frame
    where = out[:, 0, 0].flatten(1).argmax(1)
    dy, dx = where // 10 - 4, where % 10 - 5
    assert dy.abs().max() == 2 and dx.abs().max() == 2  # the draws reach the limit
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) > 15
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same shift at every step
    assert torch.equal(translate_frames(x, 0, gen), x)


def test_csnn_step_equals_multistep_and_bad_input_is_refused():
    torch.manual_seed(0)
    net = create("csnn_ndigits", neuron_kwargs={"v_threshold": 0.2}).eval()
    x = torch.poisson(torch.full((3, 5, 2, 34, 34), 0.5))
    with torch.no_grad():
        per_step, final = net.forward_steps(x.transpose(0, 1))
        state = net.init_state(3)
        steps = []
        for t in range(5):
            out, state = net.step(x[:, t], state)
            steps.append(out)
        torch.testing.assert_close(torch.stack(steps), per_step, rtol=0, atol=0)
        for a, b in zip(state, final, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(net(x), per_step.mean(0))
        assert all(float((v != 0).float().mean()) > 0.01 for v in final)  # the layers are active
    with pytest.raises(ConfigError, match="2x34x34"):
        net(torch.zeros(1, 4, 2, 32, 32))
    with pytest.raises(ConfigError, match="channels"):
        create("csnn_ndigits", channels=(16, 32, 64, 128, 256))  # 17x17 cannot halve 5 times


def test_bad_recipes_are_refused_before_training(ndigits_root):
    for bad, fragment in [
        (dict(epochs=0), "epochs"),
        (dict(lr=float("nan")), "lr"),
        (dict(max_shift=40), "max_shift"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            train_on_ndigits(ndigits_root, recipe=replace(RECIPE, **bad))
    with pytest.raises(ConfigError, match="train_limit"):
        train_on_ndigits(ndigits_root, train_limit=0)
    assert isinstance(RECIPE, Recipe)
