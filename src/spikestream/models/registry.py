"""The model registry, in timm's manner: each entry is a few-line function decorated with
`register_model` that calls its family's builder with a small config; `create(name, **overrides)`
builds one, `list_models()` lists them.

    >>> from spikestream import models
    >>> net = models.create("plifnet_ndigits")
    >>> models.list_models("plifnet_*")
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from torch import nn

from ..errors import ConfigError

ModelFn = TypeVar("ModelFn", bound=Callable[..., nn.Module])
ConfigT = TypeVar("ConfigT")

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: ModelFn) -> ModelFn:
    """Register ``fn`` under its own name (``plifnet_dvsgesture``); its docstring's first line
    is the entry's one-line description."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ConfigError(f"a model named {name!r} is already registered")
    _REGISTRY[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching the shell-style ``pattern``, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def create(name: str, **overrides: Any) -> nn.Module:
    """Build the registered model ``name``; ``overrides`` replace entries of its config."""
    try:
        fn = _REGISTRY[name]
    except KeyError:
        close = fnmatch.filter(_REGISTRY, f"*{name.split('_')[0]}*") or list_models()
        raise ConfigError(
            f"no model named {name!r}; registered: {', '.join(sorted(close))}"
        ) from None
    try:
        return fn(**overrides)
    except TypeError as exc:  # an override the entry's builder does not take
        raise ConfigError(f"model {name!r}: {exc}") from None


def describe(name: str) -> str:
    """The entry's one-line description (first docstring line)."""
    if name not in _REGISTRY:  # the same error as create's
        create(name)
    doc = (_REGISTRY[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


@runtime_checkable
class StepModel(Protocol):
    """A model the live engine can run one time step at a time with explicit state:
    ``state = model.init_state(batch)``, then ``out_t, state = model.step(x_t, state)`` per step,
    equal step for step to the multi-step ``forward``."""

    def init_state(self, batch: int) -> Any: ...

    def step(self, x_t: Any, state: Any) -> tuple[Any, Any]: ...


def family_config(
    owner: str, config_type: type[ConfigT], config: ConfigT | None, overrides: dict[str, Any]
) -> ConfigT:
    """A family's config: ``config`` (or the defaults) with ``overrides`` applied, unknown
    options refused naming the valid ones, and an ``input_size`` given as one int (a square
    input) made ``(H, W)``. The family checks the rest."""
    names = {f.name for f in dataclasses.fields(config_type)}  # type: ignore[arg-type]
    if unknown := sorted(set(overrides) - names):
        raise ConfigError(f"{owner}: unknown option(s) {unknown}; options: {sorted(names)}")
    cfg = dataclasses.replace(config or config_type(), **overrides)  # type: ignore[type-var]
    size = cfg.input_size  # type: ignore[attr-defined]
    if isinstance(size, int):
        size = (size, size)
    if len(size) != 2:
        raise ConfigError(f"{owner} input_size must be (H, W), got {size}")
    return dataclasses.replace(cfg, input_size=(int(size[0]), int(size[1])))  # type: ignore[type-var]
