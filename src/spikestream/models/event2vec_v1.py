"""Event2Vec v1 (Fang & Panda, arXiv 2504.15371 v1; code branch ``arxiv_v1`` of
``Intelligent-Computing-Lab-Panda/event2vec``): every event becomes one token through lookup
tables, and a transformer encoder with a CLS token classifies the token set.

Per event ``(x, y, t, p)``, in the original's order:

1. coordinates onto the coarser ``grid``: ``x' = clamp(round(x * w / W), 0, w-1)``, likewise y
   (round half to even, in float32 for integer input);
2. ``t <- t - t[:, 0]`` (``offset_t``);
3. spatial embedding, ``embed`` (polarity folded into the row index, row 0 a zero padding row
   that padded events read):

   * ``'naive'``: one table of ``P*h*w`` rows, row ``p*h*w + y'*w + x'``;
   * ``'naive2d'``: a y table (``p*h + y'``, ``d_y = int(h/(h+w)*d)`` channels) and an x table
     (``p*w + x'``, ``d - d_y`` channels), concatenated ``[e_y, e_x]``;
   * ``'neighbor1d-naive2d-{n}-{dil}'`` (the paper's choice, ``n=2, dil=1``): as ``naive2d`` but
     each axis sums ``2n+1`` neighbour rows ``c_k * E[p*h + clamp(y' + k*dil)]`` with learnable
     weights ``c_y``, ``c_x`` initialised to ``exp(-k^2/2)`` (the clamp comes before the
     polarity offset, so neighbours never cross into the other polarity's rows);
   * ``'neighbor1d-naive-{n}-{dil}'``: the same weighted sum over the single table; as in the
     original, term k shifts y **and** x by ``k*dil`` (diagonal neighbours);

4. temporal encoding, ``tpe``: ``'add'`` adds the scalar time to every channel (no
   parameters); ``'t2v'`` adds Time2Vec, ``v = Linear(1, d)(t)`` with ``sin`` on channels 1..;
5. a learnable CLS token first, then a post-norm ``TransformerEncoder`` (ReLU, batch first,
   final LayerNorm) with a key padding mask (CLS never masked), and ``Linear(d, classes)`` on
   the CLS output.

**Layout.** ``forward(x, y, t, p, valid_mask=None) -> [N, classes]`` logits, every input
``[N, L]``: ``x``, ``y`` in **sensor** pixels (the model itself moves them onto ``grid``; build
it with ``sensor_size=grid`` to feed coordinates that are already on the grid), ``p`` 0/1,
``t`` normalised time (float), ``valid_mask`` bool, False at padding, padding at the end of each
row. This is what `spikestream.transforms.ToEventTokens` (``grid=None``) and `pad_tokens` give,
as tensors: ``model(**{k: torch.from_numpy(v) for k, v in tokens.items()},
valid_mask=torch.from_numpy(mask))``. Without ``valid_mask``, events with ``p < 0`` (the ``-1``
padding of `pad_tokens` and of the original collate) are padding. Padded events never change
the output, whatever values they hold.

**Checkpoints.** Parameter names, shapes and initialisation order are the original's
(``embed.c_y``, ``embed.embed.embed_y.weight``, ``classifier.class_token``,
``classifier.encoder.layers.0.self_attn.in_proj_weight``, ..., ``classifier.head.bias``), so the
published state_dicts load with ``strict=True`` (`load_original_checkpoint` also takes the
Lightning checkpoint file) and ``torch.manual_seed(s)`` before construction gives the original's
initial weights.

**Equivalence.** The forward is the original's eager float32 computation written out in plain
torch ops, one path in every mode. It matches the original with autograd enabled (PyTorch's
standard ``TransformerEncoder`` path, as in training). Under ``torch.no_grad()`` the original's
``TransformerEncoder`` takes PyTorch's fused nested-tensor fast path instead: its logits and CLS
features agree with ours to rounding, but its outputs at *padded* positions are LayerNorm(0);
they never reach the logits. The forward has no Python branch on tensor values (the optional
input check below is skipped while compiling or exporting), so ``torch.compile`` and ONNX export
with dynamic batch and sequence length see one graph.

Against golden file G (the original code, float32 eager): embeddings and tokens bit for bit;
encoder outputs, logits, loss and every gradient within 2e-6 of each array's largest magnitude
(the attention sums run in another order).

Not built: the original's options that are off in the README command and by default (sequence
dropout, coordinate noise, coordinate offsets, ``t_heads`` merging, self-supervised heads,
``neighbor2d-naive``). One difference on purpose: with ``grid == sensor_size`` the original
skips step 1 and so does not clamp; here the clamp always applies, which changes nothing for
coordinates inside the sensor and keeps other values inside the tables.
"""

from __future__ import annotations

import math
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, MissingFileError, ValidationError
from .registry import register_model

__all__ = [
    "EMBEDDINGS",
    "TPES",
    "Event2VecV1",
    "Event2VecV1Config",
    "event2vec_v1_asldvs",
    "load_original_checkpoint",
]

#: Spatial embeddings (``'{name}'`` or ``'{name}-{n}-{dilation}'`` for the neighbour ones).
EMBEDDINGS = (
    "naive",
    "naive2d",
    "neighbor1d-naive2d-{n}-{dilation}",
    "neighbor1d-naive-{n}-{dilation}",
)
#: Temporal encodings.
TPES = ("add", "t2v")

_NEIGHBOR = re.compile(r"neighbor1d-(naive2d|naive)-(\d+)-(\d+)")


@dataclass(frozen=True)
class Event2VecV1Config:
    """One Event2Vec v1 network. ``sensor_size`` and ``grid`` are (W, H), as in
    `ToEventTokens` (the original's ``W, H`` and ``w, h``); ``polarities`` is the original's
    ``P``; ``dropout`` is the encoder's (attention and feed-forward); ``head_zero_init``
    starts the classifier head at zero (the original's ``classify_head_zero_init``)."""

    n_classes: int = 24
    sensor_size: tuple[int, int] = (240, 180)
    grid: tuple[int, int] = (48, 36)
    polarities: int = 2
    embed: str = "neighbor1d-naive2d-2-1"
    tpe: str = "add"
    d_model: int = 256
    n_head: int = 16
    d_feedforward: int = 512
    n_layers: int = 2
    dropout: float = 0.0
    offset_t: bool = True
    head_zero_init: bool = False

    def check(self) -> None:
        for name in ("n_classes", "polarities", "d_model", "n_head", "d_feedforward", "n_layers"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"Event2VecV1 {name} must be >= 1, got {getattr(self, name)}")
        for name in ("sensor_size", "grid"):
            size = getattr(self, name)
            if len(size) != 2 or min(size) < 1:
                raise ConfigError(f"Event2VecV1 {name} must be (W, H) >= 1, got {size}")
        if self.grid[0] > self.sensor_size[0] or self.grid[1] > self.sensor_size[1]:
            raise ConfigError(
                f"Event2VecV1 grid {self.grid} is larger than sensor_size {self.sensor_size}; "
                f"the grid can only be coarser (use grid=sensor_size to keep every pixel)"
            )
        if self.d_model % self.n_head:
            raise ConfigError(
                f"Event2VecV1 d_model={self.d_model} is not divisible by n_head={self.n_head}"
            )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"Event2VecV1 dropout must be in [0, 1), got {self.dropout}")
        if self.tpe not in TPES:
            raise ConfigError(f"Event2VecV1 tpe must be one of {TPES}, got {self.tpe!r}")
        kind, _, _ = self.embed_spec()
        if kind == "naive2d":
            w, h = self.grid
            d_y = int(h / (h + w) * self.d_model)
            if d_y < 1 or self.d_model - d_y < 1:
                raise ConfigError(
                    f"Event2VecV1 d_model={self.d_model} is too small to split between the y and "
                    f"x tables of a {w}x{h} grid (y gets {d_y} channels); raise d_model"
                )

    def embed_spec(self) -> tuple[str, int, int]:
        """``(table kind, neighbours per side, dilation)``: ``('naive2d', 2, 1)`` for
        ``'neighbor1d-naive2d-2-1'``, ``('naive', 0, 1)`` for ``'naive'``."""
        if self.embed in ("naive", "naive2d"):
            return self.embed, 0, 1
        m = _NEIGHBOR.fullmatch(self.embed)
        if m is None:
            raise ConfigError(
                f"Event2VecV1 embed must be one of {EMBEDDINGS} (e.g. 'neighbor1d-naive2d-2-1'), "
                f"got {self.embed!r}"
            )
        n, dilation = int(m.group(2)), int(m.group(3))
        if dilation < 1:
            raise ConfigError(f"Event2VecV1 embed {self.embed!r}: dilation must be >= 1")
        return m.group(1), n, dilation


class _Table(nn.Module):
    """A lookup table with a zero padding row 0: index i reads row i + 1, padded events row 0
    (no gradient reaches it). Initialised as ``nn.Embedding(rows + 1, dim, padding_idx=0)``."""

    def __init__(self, rows: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(rows + 1, dim))
        nn.init.normal_(self.weight)
        with torch.no_grad():
            self.weight[0].zero_()

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}, padding_idx=0"

    def lookup(self, index: Tensor, valid: Tensor) -> Tensor:
        return F.embedding(torch.where(valid, index + 1, 0), self.weight, padding_idx=0)


def _neighbour_weights(n: int) -> nn.Parameter:
    # exp(-k^2/2) for k = -n..n, [2n+1, 1, 1, 1] to broadcast over the stacked [K, N, L, d]
    c = torch.tensor([math.exp(-k * k / 2) for k in range(-n, n + 1)], dtype=torch.float32)
    return nn.Parameter(c.view(-1, 1, 1, 1))


def _neighbours(coord: Tensor, n: int, dilation: int, size: int) -> Tensor:
    """``[2n+1, N, L]``: ``clamp(coord + k * dilation, 0, size-1)`` for k = -n..n."""
    k = torch.arange(-n, n + 1, device=coord.device, dtype=coord.dtype) * dilation
    return torch.clamp(coord.unsqueeze(0) + k.view(-1, 1, 1), 0, size - 1)


class _Naive(_Table):
    """``'naive'``: one table, row ``p*h*w + y*w + x`` (state_dict key ``weight``)."""

    def __init__(self, polarities: int, h: int, w: int, d: int) -> None:
        super().__init__(polarities * h * w, d)
        self.h, self.w = h, w

    def forward(self, p: Tensor, y: Tensor, x: Tensor, valid: Tensor) -> Tensor:
        return self.lookup(p * (self.h * self.w) + y * self.w + x, valid)


class _Naive2D(nn.Module):
    """``'naive2d'``: y table (``p*h + y``) and x table (``p*w + x``), concatenated."""

    def __init__(self, polarities: int, h: int, w: int, d: int) -> None:
        super().__init__()
        self.h, self.w = h, w
        d_y = int(h / (h + w) * d)  # the original's split, float then int
        self.embed_y = _Table(polarities * h, d_y)
        self.embed_x = _Table(polarities * w, d - d_y)

    def forward(self, p: Tensor, y: Tensor, x: Tensor, valid: Tensor) -> Tensor:
        e_y = self.embed_y.lookup(p * self.h + y, valid)
        e_x = self.embed_x.lookup(p * self.w + x, valid)
        return torch.cat((e_y, e_x), dim=-1)


class _Neighbor1DNaive2D(nn.Module):
    """``'neighbor1d-naive2d-{n}-{dil}'``: per axis, the weighted sum of ``2n+1`` neighbour
    rows of the ``naive2d`` tables."""

    def __init__(self, polarities: int, h: int, w: int, d: int, n: int, dilation: int) -> None:
        super().__init__()
        self.h, self.w, self.n, self.dilation = h, w, n, dilation
        self.c_y = _neighbour_weights(n)
        self.c_x = _neighbour_weights(n)
        self.embed = _Naive2D(polarities, h, w, d)

    def forward(self, p: Tensor, y: Tensor, x: Tensor, valid: Tensor) -> Tensor:
        ys = _neighbours(y, self.n, self.dilation, self.h)
        xs = _neighbours(x, self.n, self.dilation, self.w)
        p = p.unsqueeze(0)
        # stacked rows times weights, summed over the neighbour axis: the original's order
        e_y = (self.embed.embed_y.lookup(p * self.h + ys, valid) * self.c_y).sum(0)
        e_x = (self.embed.embed_x.lookup(p * self.w + xs, valid) * self.c_x).sum(0)
        return torch.cat((e_y, e_x), dim=-1)


class _Neighbor1DNaive(nn.Module):
    """``'neighbor1d-naive-{n}-{dil}'``: the weighted sum of ``2n+1`` rows of the ``naive``
    table, term k at ``(y + k*dil, x + k*dil)`` (the original's diagonal neighbours)."""

    def __init__(self, polarities: int, h: int, w: int, d: int, n: int, dilation: int) -> None:
        super().__init__()
        self.h, self.w, self.n, self.dilation = h, w, n, dilation
        self.c = _neighbour_weights(n)
        self.embed = _Naive(polarities, h, w, d)

    def forward(self, p: Tensor, y: Tensor, x: Tensor, valid: Tensor) -> Tensor:
        ys = _neighbours(y, self.n, self.dilation, self.h)
        xs = _neighbours(x, self.n, self.dilation, self.w)
        return (self.embed(p.unsqueeze(0), ys, xs, valid) * self.c).sum(0)


class _Time2Vec(nn.Module):
    """Time2Vec (Kazemi et al. 2019): ``v = Linear(1, d)(t)``, ``sin`` on channels 1..d-1."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc = nn.Linear(1, d)

    def forward(self, t: Tensor) -> Tensor:
        v = self.fc(t.unsqueeze(-1))
        return torch.cat((v[..., :1], torch.sin(v[..., 1:])), dim=-1)


class _TemporalEncoding(nn.Module):
    """``tokens + f(t)``: ``f(t) = t`` on every channel (``'add'``) or Time2Vec (``'t2v'``,
    state_dict ``transform.fc.*`` as in the original)."""

    def __init__(self, kind: str, d: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "t2v":
            self.transform = _Time2Vec(d)

    def forward(self, t: Tensor, tokens: Tensor) -> Tensor:
        if self.kind == "t2v":
            return self.transform(t) + tokens
        return t.unsqueeze(-1) + tokens


def _attention(mha: nn.MultiheadAttention, h: Tensor, key_bias: Tensor, training: bool) -> Tensor:
    """Multi-head self-attention over ``h [N, S, E]`` with the packed projections of ``mha``;
    ``key_bias [N, 1, 1, S]`` is 0 for keys and -inf for padding (PyTorch's standard path)."""
    n, s, e = h.shape
    heads = mha.num_heads
    qkv = F.linear(h, mha.in_proj_weight, mha.in_proj_bias)
    q, k, v = qkv.view(n, s, 3, heads, e // heads).permute(2, 0, 3, 1, 4).unbind(0)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=key_bias, dropout_p=mha.dropout if training else 0.0
    )
    out = out.transpose(1, 2).reshape(n, s, e)
    return F.linear(out, mha.out_proj.weight, mha.out_proj.bias)


def _encoder_layer(layer: nn.TransformerEncoderLayer, h: Tensor, key_bias: Tensor) -> Tensor:
    """One post-norm ``TransformerEncoderLayer`` (its own parameters and modules), without
    PyTorch's fused inference path, so every mode computes the same function."""
    a = _attention(layer.self_attn, h, key_bias, layer.training)
    h = layer.norm1(h + layer.dropout1(a))
    ff = layer.linear2(layer.dropout(layer.activation(layer.linear1(h))))
    return layer.norm2(h + layer.dropout2(ff))


class _Classifier(nn.Module):
    """CLS token, ``TransformerEncoder`` (post-norm, final LayerNorm) and linear head."""

    def __init__(self, cfg: Event2VecV1Config) -> None:
        super().__init__()
        d = cfg.d_model
        self.class_token = nn.Parameter(torch.zeros(1, 1, d))
        layer = nn.TransformerEncoderLayer(
            d_model=d,
            nhead=cfg.n_head,
            dim_feedforward=cfg.d_feedforward,
            dropout=cfg.dropout,
            batch_first=True,
        )
        # a parameter container laid out as the original's (deep copies of one layer, so the
        # original's initialisation); run by `_encoder_layer`, never by its own forward
        self.encoder = nn.TransformerEncoder(
            layer, cfg.n_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False
        )
        self.head = nn.Linear(d, cfg.n_classes)
        if cfg.head_zero_init:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def encode(self, tokens: Tensor, valid: Tensor) -> list[Tensor]:
        """Every encoder layer's output ``[N, L+1, d]`` (position 0 = CLS), then the final
        LayerNorm's."""
        n = tokens.shape[0]
        h = torch.cat((self.class_token.expand(n, -1, -1), tokens), dim=1)
        keep = torch.cat((torch.ones_like(valid[:, :1]), valid), dim=1)
        zero = torch.zeros((), dtype=h.dtype, device=h.device)
        key_bias = torch.where(keep, zero, float("-inf"))[:, None, None, :]
        outs = []
        for layer in self.encoder.layers:
            h = _encoder_layer(layer, h, key_bias)
            outs.append(h)
        assert self.encoder.norm is not None
        outs.append(self.encoder.norm(h))
        return outs

    def forward(self, tokens: Tensor, valid: Tensor) -> Tensor:
        return self.head(self.encode(tokens, valid)[-1][:, 0])


def _in_eager() -> bool:
    return not (
        torch.compiler.is_compiling()
        or torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or torch.onnx.is_in_onnx_export()
    )


class Event2VecV1(nn.Module):
    """Event2Vec v1: ``forward(x, y, t, p, valid_mask=None) -> [N, classes]`` logits (layout in
    the module docstring). ``Event2VecV1(cfg, **overrides)`` with an `Event2VecV1Config`, or
    keyword options alone. ``check_inputs``: in eager mode, refuse polarities outside
    ``[0, polarities)`` on valid events (a `ValidationError` naming sample and position)."""

    def __init__(
        self, cfg: Event2VecV1Config | None = None, *, check_inputs: bool = True, **overrides: Any
    ) -> None:
        super().__init__()
        try:
            cfg = replace(cfg or Event2VecV1Config(), **overrides)
        except TypeError as exc:  # an unknown option
            raise ConfigError(f"Event2VecV1: {exc}") from None
        cfg.check()
        self.cfg = cfg
        self.check_inputs = check_inputs
        (self.W, self.H), (self.w, self.h) = cfg.sensor_size, cfg.grid
        self.P = cfg.polarities
        kind, n, dilation = cfg.embed_spec()
        args = (cfg.polarities, self.h, self.w, cfg.d_model)
        self.embed: nn.Module
        if cfg.embed == "naive":
            self.embed = _Naive(*args)
        elif cfg.embed == "naive2d":
            self.embed = _Naive2D(*args)
        elif kind == "naive2d":
            self.embed = _Neighbor1DNaive2D(*args, n, dilation)
        else:
            self.embed = _Neighbor1DNaive(*args, n, dilation)
        self.tpe = _TemporalEncoding(cfg.tpe, cfg.d_model)
        self.classifier = _Classifier(cfg)

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"sensor {self.W}x{self.H} -> grid {self.w}x{self.h}, embed={c.embed!r}, "
            f"tpe={c.tpe!r}, offset_t={c.offset_t}"
        )

    # -- the pipeline, step by step -------------------------------------------------------

    def downsample(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Grid coordinates (int64): ``clamp(round(x * w / W), 0, w-1)``, likewise y."""

        def one(c: Tensor, scale: float, size: int) -> Tensor:
            c = c if c.is_floating_point() else c.to(torch.float32)
            return torch.clamp(torch.round(c * scale).long(), 0, size - 1)

        return one(x, self.w / self.W, self.w), one(y, self.h / self.H, self.h)

    def times(self, t: Tensor, valid: Tensor) -> Tensor:
        """The times the temporal encoding sees: ``t - t[:, :1]`` (``offset_t``), padded slots
        first set to -1."""
        # padded times become the original's -1 padding: any value (NaN included) in a padded
        # slot then stays out of the encoder, and -1-padded input gives the original's tokens
        t = torch.where(valid, t, -1.0)
        return t - t[:, :1] if self.cfg.offset_t else t

    def tokens(
        self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid_mask: Tensor | None = None
    ) -> Tensor:
        """The encoder's input ``[N, L, d]``: spatial embedding plus temporal encoding."""
        valid = self._valid(x, y, t, p, valid_mask)
        return self._tokens(x, y, t, p, valid)

    def forward_features(
        self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid_mask: Tensor | None = None
    ) -> list[Tensor]:
        """Every encoder layer's output ``[N, L+1, d]`` (position 0 = CLS), then the final
        LayerNorm's (whose position 0 is the head's input)."""
        valid = self._valid(x, y, t, p, valid_mask)
        return self.classifier.encode(self._tokens(x, y, t, p, valid), valid)

    def forward(
        self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid_mask: Tensor | None = None
    ) -> Tensor:
        valid = self._valid(x, y, t, p, valid_mask)
        return self.classifier(self._tokens(x, y, t, p, valid), valid)

    # -- internals ------------------------------------------------------------------------

    def _valid(
        self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid_mask: Tensor | None
    ) -> Tensor:
        eager = _in_eager()  # a traced or compiled graph takes the shapes as they come
        if eager:
            fields = {"x": x, "y": y, "t": t, "p": p}
            if valid_mask is not None:
                fields["valid_mask"] = valid_mask
            shapes = {k: tuple(v.shape) for k, v in fields.items()}
            if x.dim() != 2 or len(set(shapes.values())) != 1:
                raise ConfigError(
                    f"Event2VecV1 takes x, y, t, p (and valid_mask) of one shape [N, L], got "
                    f"{shapes}; stack samples with spikestream.transforms.pad_tokens"
                )
        if not t.is_floating_point():
            raise ConfigError(
                f"Event2VecV1 takes normalised float times t, got dtype {t.dtype}; normalise "
                f"with ToEventTokens(norm_t='dataset', t_scale=...) or convert with t.float()"
            )
        valid = (p >= 0) if valid_mask is None else valid_mask.to(torch.bool)
        if self.check_inputs and eager:
            bad = valid & ((p < 0) | (p >= self.P))
            if bool(bad.any()):
                n, i = (int(v) for v in bad.nonzero()[0])
                raise ValidationError(
                    f"Event2VecV1: sample {n}, token {i} has polarity {p[n, i].item()}; valid "
                    f"events need p in [0, {self.P - 1}] (mark padding in valid_mask)",
                    index=i,
                    field="p",
                )
        return valid

    def _tokens(self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid: Tensor) -> Tensor:
        xg, yg = self.downsample(x, y)
        # keep reads in the tables whatever a padded (or unchecked) polarity holds
        pl = torch.clamp(p.long(), 0, self.P - 1)
        tokens = self.embed(pl, yg, xg, valid)
        return self.tpe(self.times(t, valid).to(tokens.dtype), tokens)


def load_original_checkpoint(
    model: Event2VecV1, source: Mapping[str, Any] | str | os.PathLike[str]
) -> Event2VecV1:
    """Load a checkpoint of the original code into ``model`` (``strict=True``): a state_dict, a
    Lightning checkpoint dict (its ``state_dict``) or the path of either. Prefixes
    ``_orig_mod.`` (``torch.compile``) are dropped, as are the original's metric entries."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise MissingFileError(path)
        try:  # tensors and plain containers only: unpickling code is the caller's decision
            source = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ConfigError(
                f"{path}: not loadable with weights_only=True ({str(exc).splitlines()[0]}); if "
                f"you trust the file, pass torch.load(path, weights_only=False) instead"
            ) from None
    if not isinstance(source, Mapping):
        raise ConfigError(f"a checkpoint is a state_dict mapping, got {type(source).__name__}")
    sd = source.get("state_dict", source)
    clean = {}
    for key, value in sd.items():
        key = key.replace("_orig_mod.", "")
        if key.split(".")[0] in ("train_acc", "valid_acc", "test_acc"):
            continue
        clean[key] = value
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(clean)), sorted(set(clean) - set(own))
    if missing or unexpected:
        raise ConfigError(
            f"checkpoint does not fit this Event2VecV1 (embed={model.cfg.embed!r}, "
            f"tpe={model.cfg.tpe!r}, grid={model.cfg.grid}, n_layers={model.cfg.n_layers}): "
            f"missing {missing[:4]}, unexpected {unexpected[:4]}; build the model with the "
            f"checkpoint's options"
        )
    try:
        model.load_state_dict(clean, strict=True)
    except RuntimeError as exc:  # a shape mismatch: another d_model, grid or class count
        raise ConfigError(f"checkpoint does not fit this Event2VecV1: {exc}") from None
    return model


def _cfg(**kwargs: Any) -> Event2VecV1Config:
    return Event2VecV1Config(**kwargs)


def _create_event2vec_v1(cfg: Event2VecV1Config, **overrides: Any) -> Event2VecV1:
    return Event2VecV1(cfg, **overrides)


@register_model
def event2vec_v1_asldvs(**overrides: Any) -> Event2VecV1:
    """ASL-DVS (240x180 -> 36x48 grid, 255 tokens, 24 classes): Event2Vec v1, neighbor1d-naive2d-2-1 tables, tpe add, 2-layer d256 transformer + CLS (arXiv 2504.15371 v1; loads its checkpoints)."""  # noqa: E501
    return _create_event2vec_v1(_cfg(), **overrides)
