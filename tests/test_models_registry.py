"""Checks every registered model gets for free (timm's ``tests/test_models.py`` in small):
parametrized over ``list_models()``, so a new entry is covered the moment it is registered.

Each entry is built at a small size through its family's overrides (the family table below says
how, and how to make its documented input), then: forward on a batch of one and of three, each
sample's output equal to its output alone (eval mode); backward of a cross-entropy loss against
random labels, reaching every parameter with finite values; for `StepModel` entries, stepping
one frame at a time equals the multi-step run (outputs and final state). One more test builds
each entry at its real size and runs one short sample, where that is cheap.

A family not in ``FAMILIES`` fails its tests with a message asking for its row: the table is
the one place that knows a family's input layout.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from spikestream.models import StepModel, create, describe, list_models

Inputs = tuple[tuple[Any, ...], dict[str, Any]]


def _frames(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Event counts per pixel and bin (Poisson, mean 0.4)."""
    return torch.poisson(torch.full(shape, 0.4), generator=gen)


def _plif_inputs(model: nn.Module, batch: int, steps: int, gen: torch.Generator) -> Inputs:
    cfg = model.config
    return (_frames((batch, steps, cfg.in_channels, *cfg.input_size), gen),), {}


def _rsnn_inputs(model: nn.Module, batch: int, steps: int, gen: torch.Generator) -> Inputs:
    return (_frames((batch, steps, *model.input_shape), gen),), {}


def _tokens(sensor: tuple[int, int], batch: int, length: int, gen: torch.Generator) -> Inputs:
    """``x, y, t, p`` ``[N, L]`` floats (pixels, sorted times in [0, 1], polarity 0/1) and a
    bool ``valid_mask`` with the last sample padded at the end, as `pad_tokens` lays them."""
    w, h = sensor
    x = torch.randint(0, w, (batch, length), generator=gen).float()
    y = torch.randint(0, h, (batch, length), generator=gen).float()
    t = torch.rand(batch, length, generator=gen).sort(dim=1).values
    p = torch.randint(0, 2, (batch, length), generator=gen).float()
    valid = torch.ones(batch, length, dtype=torch.bool)
    if batch > 1:
        valid[-1, length - 3 :] = False
    return (x, y, t, p), {"valid_mask": valid}


@dataclass(frozen=True)
class Family:
    """How to test one family: ``small`` overrides for a cheap instance; ``inputs(model, batch,
    steps_or_length, gen)``; for spiking families ``multi(model, x) -> (per-step outputs
    [T, N, ...], final state)`` and ``reduce(per-step outputs) -> forward's output``."""

    small: dict[str, Any]
    inputs: Callable[[nn.Module, int, int, torch.Generator], Inputs]
    length: int
    multi: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, Any]] | None = None
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
    real_length: int = 2
    heavy: dict[str, str] = field(default_factory=dict)  # entry -> why its real size is skipped


FAMILIES: dict[str, Family] = {
    "csnn_*": Family(
        # the quick start's network; a low threshold so every layer spikes at initialisation
        small={"channels": (4, 8), "input_size": (16, 16), "neuron_kwargs": {"v_threshold": 0.05}},
        inputs=_plif_inputs,
        length=3,
        multi=lambda m, x: m.forward_steps(x.transpose(0, 1)),
        reduce=lambda per_step: per_step.mean(0),
        real_length=2,
    ),
    "plifnet_*": Family(
        # a low threshold so every layer spikes at initialisation (else the checks compare zeros)
        small={
            "channels": 4,
            "hidden": (16,),
            "input_size": (32, 32),
            "neuron_kwargs": {"v_threshold": 0.05},
        },
        inputs=_plif_inputs,
        length=3,
        multi=lambda m, x: m.forward_steps(x.transpose(0, 1)),
        reduce=lambda per_step: per_step.mean(0),  # forward averages the votes over time
        real_length=1,
    ),
    "rsnn_*": Family(
        small={"input_shape": (2, 5, 5), "hidden": 16},
        inputs=_rsnn_inputs,
        length=6,
        multi=lambda m, x: (lambda out, s: (out.transpose(0, 1), s))(*m.run(x)),
        reduce=lambda per_step: per_step[-1],  # the decision after the last step
        real_length=3,
    ),
    "event2vec_v1_*": Family(
        small={"d_model": 16, "n_head": 2, "d_feedforward": 32},
        inputs=lambda m, n, L, g: _tokens(m.cfg.sensor_size, n, L, g),
        length=12,
        real_length=16,
    ),
    "event2vec_*": Family(
        small={"d_model": 16, "d_ff": 32},
        inputs=lambda m, n, L, g: _tokens(m.sensor_size, n, L, g),
        length=12,
        real_length=16,
    ),
}


def _lookup(name: str) -> Family | None:
    for pattern, fam in FAMILIES.items():  # the more specific patterns come first
        if fnmatch.fnmatchcase(name, pattern):
            return fam
    return None


def family(name: str) -> Family:
    fam = _lookup(name)
    if fam is not None:
        return fam
    pytest.fail(
        f"registered model {name!r} has no row in tests/test_models_registry.py FAMILIES: "
        f"add its small overrides and input layout there"
    )
    raise AssertionError  # unreachable: pytest.fail raises


def _small(name: str) -> tuple[nn.Module, Family]:
    fam = family(name)
    torch.manual_seed(0)
    return create(name, **fam.small), fam


def _classes(out: torch.Tensor) -> int:
    return out.shape[-1]


def _leaves(state: Any) -> list[torch.Tensor]:
    """Every tensor in a (nested) state, in order; None slots skipped."""
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _leaves(s)]
    return []


MODELS = list_models()
SPIKING = [n for n in MODELS if (f := _lookup(n)) is not None and f.multi is not None]


def test_registry_lists_documented_entries():
    assert MODELS == sorted(MODELS)
    for name in MODELS:
        assert describe(name), f"{name} has no docstring line"
        family(name)  # every entry has a row
    for expected in ("rsnn_pokerdvs",):
        assert expected in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_forward_batch_one_and_many(name):
    model, fam = _small(name)
    model.eval()
    gen = torch.Generator().manual_seed(1)
    args, kwargs = fam.inputs(model, 3, fam.length, gen)
    with torch.no_grad():
        out = model(*args, **kwargs)
        assert out.ndim == 2 and out.shape[0] == 3
        assert torch.isfinite(out).all()
        for k in range(3):
            one = model(
                *(a[k : k + 1] for a in args), **{n: v[k : k + 1] for n, v in kwargs.items()}
            )
            assert one.shape == (1, out.shape[1])
            torch.testing.assert_close(one[0], out[k], rtol=1e-5, atol=1e-5)
    assert not torch.equal(out[0], out[1])  # the input reaches the output


@pytest.mark.parametrize("name", MODELS)
def test_backward_with_a_real_loss(name):
    model, fam = _small(name)
    model.train()
    gen = torch.Generator().manual_seed(2)
    args, kwargs = fam.inputs(model, 2, fam.length, gen)
    out = model(*args, **kwargs)
    labels = torch.randint(0, _classes(out), (2,), generator=gen)
    loss = nn.functional.cross_entropy(out, labels)
    loss.backward()
    assert torch.isfinite(loss)
    total = 0.0
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, f"{name}: {pname} gets no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {pname} has a non-finite gradient"
        total += float(p.grad.abs().sum())
    assert total > 0


@pytest.mark.parametrize("name", SPIKING)
def test_step_equals_multistep(name):
    model, fam = _small(name)
    assert isinstance(model, StepModel)
    assert fam.multi is not None and fam.reduce is not None
    model.eval()  # dropout off (training-mode masks are the families' own tests)
    for batch in (1, 3):
        gen = torch.Generator().manual_seed(3 + batch)
        (x,), _ = fam.inputs(model, batch, fam.length, gen)
        with torch.no_grad():
            per_step, final = fam.multi(model, x)
            state = model.init_state(batch)
            outs = []
            for t in range(x.shape[1]):
                out, state = model.step(x[:, t], state)
                outs.append(out)
            stepped = torch.stack(outs)
            forward = model(x)
        assert per_step.std() > 0  # the outputs move: the comparison is not of constants
        torch.testing.assert_close(stepped, per_step, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(fam.reduce(stepped), forward, rtol=1e-5, atol=1e-5)
        ours, ref = _leaves(state), _leaves(final)
        assert len(ours) == len(ref) > 0
        for a, b in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_real_size_forward(name):
    """The entry as registered (no overrides), one short sample of its documented layout."""
    fam = family(name)
    if name in fam.heavy:
        pytest.skip(f"{name} at its real size is too heavy for the test budget: {fam.heavy[name]}")
    torch.manual_seed(0)
    model = create(name).eval()
    args, kwargs = fam.inputs(model, 1, fam.real_length, torch.Generator().manual_seed(4))
    with torch.no_grad():
        out = model(*args, **kwargs)
    assert out.shape[0] == 1 and out.shape[1] >= 2
    assert torch.isfinite(out).all()
