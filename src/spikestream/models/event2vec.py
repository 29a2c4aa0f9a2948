"""Event2Vec, current method (Fang & Panda, arXiv 2504.15371 v3+; the ``main`` branch of
Intelligent-Computing-Lab-Panda/event2vec): each event becomes a token (an MLP on its normalised
``(x, y, p)`` plus a Conv1d embedding of its time step), a bidirectional forgetting-attention
(FoX) encoder mixes the tokens, and the masked mean of the tokens feeds a linear head.

Input layout (what `spikestream.transforms.functional.pad_tokens` produces from
`event_tokens`): four float tensors ``x, y, t, p`` of shape ``[N, L]`` and a bool
``valid_mask [N, L]`` (True = a real event), so ``model(**tokens, valid_mask=mask)`` works.

* ``x``, ``y``: integer-valued pixel coordinates inside ``sensor_size = (W, H)`` (rescale them
  first if the model was built for a coarser grid); ``p``: 0 or 1.
* ``t``: time in any unit, sorted within a sample. The model subtracts the first token's time
  and divides by the sample's largest time (Event2Vec normalises per sample), so microseconds
  and the ``norm_t="sample"`` tokens give the same result. Subtract the first time before
  casting to float32 (``event_tokens`` does): absolute camera times lose their microseconds.
* Valid tokens come first in each row, as ``pad_tokens`` writes them (a mask with holes also
  works: attention and pooling only ever see valid tokens). The values at padded positions never
  matter; padding with -1 is the reference's convention.

Output: ``[N, n_classes]`` logits.

The state_dict uses the reference implementation's key names (``embed_net.embed.0.weight``,
``tpe.conv.0.weight``, ``backbone_net.layers.0.attention.attention.q_proj.weight``,
``heads.weight``, ...; with ``pool_every``, ``backbone_net.{stage}.layers.{i}...``), so an
``E2VNet`` checkpoint loads with ``strict=True`` (a Lightning checkpoint's names carry a
``classifier.`` prefix to strip).

One documented difference from the reference: a sample whose tokens all have the same time is
normalised by 1 instead of 0 (the reference divides 0 by 0 and returns NaN). And one option,
``temporal_mask``: the reference lets its temporal Conv1d stack read the hidden activations of
padded positions, so the last two valid tokens of a sample see whether 0, 1 or at least 2 padded
slots follow it, and a sample's logits change (slightly) with the batch it is padded into.
``temporal_mask=True`` zeroes those activations instead, which makes every sample's output equal
to its unpadded output whatever the padding; the default (False) reproduces the reference.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .registry import register_model

__all__ = [
    "BiForgettingAttention",
    "Event2Vec",
    "FoxEncoder",
    "FoxEncoderLayer",
    "SpatialMLP",
    "TemporalConv",
    "event2vec_asldvs",
    "event2vec_dvsgesture",
    "forgetting_attention",
    "masked_mean",
    "pair_pool",
    "time_steps",
]


def _is_tracing() -> bool:
    """True under torch.compile, TorchScript tracing or ONNX export: shape checks that raise
    are plain Python there only in eager mode."""
    return bool(
        torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
    )


class _Transpose(nn.Module):
    """Swap the channel and sequence axes (a parameter-free slot in `TemporalConv.conv`, where
    the reference has one, so the state_dict indices match)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2)


class SpatialMLP(nn.Module):
    """``(x, y, p)`` normalised to [-1, 1] -> ``Linear(3, D/4) LN ReLU Linear(D/2) LN ReLU
    Linear(D) LN``, all Linear layers bias-free (the reference's ``MLPEmbedding``)."""

    def __init__(self, d_model: int, sensor_size: tuple[int, int], polarities: int = 2):
        super().__init__()
        self.sensor_size = sensor_size
        self.polarities = polarities
        d1, d2 = d_model // 4, d_model // 2
        self.embed = nn.Sequential(
            nn.Linear(3, d1, bias=False),
            nn.LayerNorm(d1),
            nn.ReLU(),
            nn.Linear(d1, d2, bias=False),
            nn.LayerNorm(d2),
            nn.ReLU(),
            nn.Linear(d2, d_model, bias=False),
            nn.LayerNorm(d_model),
        )

    def forward(self, x: Tensor, y: Tensor, p: Tensor, valid: Tensor) -> Tensor:
        """``[N, L]`` coordinates and polarity -> ``[N, L, D]``."""
        width, height = self.sensor_size
        # The reference's operation order (scale by 2/(size-1), then subtract 1), so the tokens
        # are bit-identical to it.
        c = torch.stack(
            (
                x * (2 / (width - 1)) - 1,
                y * (2 / (height - 1)) - 1,
                p * (2 / (self.polarities - 1)) - 1,
            ),
            dim=-1,
        )
        # where, not a product: padded positions may hold anything, even NaN.
        c = torch.where(valid.unsqueeze(-1), c, torch.zeros((), dtype=c.dtype, device=c.device))
        return self.embed(c)


class TemporalConv(nn.Module):
    """Time steps ``dt [N, L]`` -> ``[N, L, D]``: three bias-free Conv1d (kernel 3, same padding;
    1 -> D/4 full, D/4 -> D/2 and D/2 -> D depthwise-grouped), each followed by a channel-last
    LayerNorm and the first two by ReLU (the reference's ``temporal_pe.Conv``)."""

    def __init__(self, d_model: int, kernel_size: int = 3, mask_padding: bool = False):
        super().__init__()
        d1, d2 = d_model // 4, d_model // 2
        pad = kernel_size // 2
        self.mask_padding = mask_padding
        self.conv = nn.Sequential(
            nn.Conv1d(1, d1, kernel_size, padding=pad, bias=False),
            _Transpose(),
            nn.LayerNorm(d1),
            _Transpose(),
            nn.ReLU(),
            nn.Conv1d(d1, d2, kernel_size, padding=pad, groups=d1, bias=False),
            _Transpose(),
            nn.LayerNorm(d2),
            _Transpose(),
            nn.ReLU(),
            nn.Conv1d(d2, d_model, kernel_size, padding=pad, groups=d2, bias=False),
            _Transpose(),
            nn.LayerNorm(d_model),
        )

    def forward(self, dt: Tensor, valid: Tensor) -> Tensor:
        h = dt.unsqueeze(1)
        keep = valid.unsqueeze(1).to(dt.dtype)
        for layer in self.conv:
            h = layer(h)
            if self.mask_padding and isinstance(layer, nn.ReLU):
                # The next conv then sees zeros past a sample's end, as in an unpadded sequence.
                h = h * keep
        return h


def time_steps(t: Tensor, valid: Tensor) -> Tensor:
    """Event2Vec's temporal input: ``t - t[:, 0]`` divided by the sample's largest time, then
    the first difference along the sequence, 0 where either token is padding, 0 prepended."""
    zero = torch.zeros((), dtype=t.dtype, device=t.device)
    rel = torch.where(valid, t - t[:, :1], zero)
    top = rel.amax(dim=1, keepdim=True)
    # One event, or all at one time: the reference divides by 0 (NaN); 1 leaves the zeros.
    rel = rel / torch.where(top > 0, top, torch.ones_like(top))
    both = (valid[:, 1:] & valid[:, :-1]).to(t.dtype)
    step = (rel[:, 1:] - rel[:, :-1]) * both
    return torch.cat((torch.zeros_like(rel[:, :1]), step), dim=1)


def forgetting_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    log_f: Tensor,
    valid: Tensor,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Both directions of forgetting attention (FoX, Lin et al. 2025) over padded batches.

    ``q [N, Hq, L, d]``, ``k, v [N, Hkv, L, d]`` (query head h reads kv head ``h // (Hq/Hkv)``),
    log forget gates ``log_f [N, Hq, L]`` (<= 0), ``valid [N, L]``. Returns ``(fwd, bwd)``, each
    ``[N, Hq, L, d]``:

    * fwd: ``o_i = sum_{j<=i} softmax_j(scale q_i.k_j + sum_{l=j+1..i} log_f_l) v_j``;
    * bwd: ``o_i = sum_{j>=i} softmax_j(scale q_i.k_j + sum_{l=i..j-1} log_f_l) v_j``
      (the forward rule on the time-reversed sequence).

    Only valid tokens are keys and only their gates decay; padded queries give 0. Plain torch:
    the ``[N, Hq, L, L]`` scores are materialised (fine for a few thousand tokens).
    """
    n, hq, length, d = q.shape
    hkv = k.shape[1]
    group = hq // hkv
    if scale is None:
        scale = d**-0.5
    zero = torch.zeros((), dtype=q.dtype, device=q.device)
    gates = torch.where(valid.unsqueeze(1), log_f, zero)
    incl = gates.cumsum(dim=-1)  # C_i = sum_{l<=i} g_l
    excl = incl - gates  # E_i = sum_{l<i} g_l
    # GQA without copying k: the query heads of one kv head share its scores matmul.
    qg = q.reshape(n, hkv, group * length, d)
    scores = (qg @ k.transpose(-1, -2)).reshape(n, hq, length, length) * scale
    fwd_bias = incl.unsqueeze(-1) - incl.unsqueeze(-2)  # C_i - C_j
    bwd_bias = excl.unsqueeze(-2) - excl.unsqueeze(-1)  # E_j - E_i
    pos = torch.arange(length, device=q.device)
    key_ok = valid[:, None, None, :]
    causal = pos[None, :] <= pos[:, None]  # [i, j]: j <= i
    anti = pos[None, :] >= pos[:, None]
    # A finite floor instead of -inf: a row with no allowed key (a padded query of an empty
    # sample) stays finite, and is zeroed below.
    # The floor of the filled tensor's own dtype: under autocast the scores (bf16/fp16) and the
    # float32 gate sums promote differently from q.
    s_fwd, s_bwd = scores + fwd_bias, scores + bwd_bias
    s_fwd = s_fwd.masked_fill(~(causal & key_ok), torch.finfo(s_fwd.dtype).min)
    s_bwd = s_bwd.masked_fill(~(anti & key_ok), torch.finfo(s_bwd.dtype).min)
    probs = torch.stack((s_fwd, s_bwd), dim=1).softmax(dim=-1)  # [N, 2, Hq, L, L]
    probs = probs.reshape(n, 2, hkv, group * length, length)
    out = (probs @ v.unsqueeze(1)).reshape(n, 2, hq, length, d)
    out = out * valid[:, None, None, :, None].to(out.dtype)
    return out[:, 0], out[:, 1]


class _GroupRMSNorm(nn.Module):
    """RMS norm per group of channels with a learnable gain (fla's ``GroupNorm(is_rms_norm=True)``
    without bias, as the reference's q/k norms)."""

    def __init__(self, groups: int, channels: int, eps: float = 1e-5):
        super().__init__()
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        xg = x.reshape(*shape[:-1], self.groups, shape[-1] // self.groups)
        xg = xg * torch.rsqrt(xg.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return xg.reshape(shape) * self.weight


class BiForgettingAttention(nn.Module):
    """Bidirectional forgetting attention: shared q/k/v/forget projections, grouped-query
    attention with ``max(heads // 2, 1)`` kv heads, per-head RMS-normed q and k, both directions
    concatenated and projected back (``o_proj``: 2D -> D, no bias)."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads:
            raise ConfigError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.n_kv_heads = max(n_heads // 2, 1)
        self.head_dim = d_model // n_heads
        kv_dim = self.n_kv_heads * self.head_dim
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, kv_dim, bias=False)
        self.v_proj = nn.Linear(d_model, kv_dim, bias=False)
        self.f_proj = nn.Linear(d_model, n_heads, bias=True)
        self.o_proj = nn.Linear(2 * d_model, d_model, bias=False)
        self.q_norm = _GroupRMSNorm(n_heads, d_model)
        self.k_norm = _GroupRMSNorm(self.n_kv_heads, kv_dim)

    def project(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``h [N, L, D]`` -> normed ``q [N, L, D]``, ``k, v [N, L, kv_dim]``, log forget gates
        ``[N, L, heads]`` (channel-last, heads concatenated)."""
        q = self.q_norm(self.q_proj(h))
        k = self.k_norm(self.k_proj(h))
        v = self.v_proj(h)
        log_f = F.logsigmoid(self.f_proj(h))
        return q, k, v, log_f

    def directions(self, h: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """The two directions' outputs, ``[N, L, D]`` each (heads concatenated)."""
        q, k, v, log_f = self.project(h)
        n, length, _ = h.shape

        def heads(z: Tensor, count: int) -> Tensor:
            return z.reshape(n, length, count, self.head_dim).transpose(1, 2)

        fwd, bwd = forgetting_attention(
            heads(q, self.n_heads),
            heads(k, self.n_kv_heads),
            heads(v, self.n_kv_heads),
            log_f.transpose(1, 2),
            valid,
            self.head_dim**-0.5,
        )
        return (
            fwd.transpose(1, 2).reshape(n, length, -1),
            bwd.transpose(1, 2).reshape(n, length, -1),
        )

    def forward(self, h: Tensor, valid: Tensor) -> Tensor:
        fwd, bwd = self.directions(h, valid)
        return self.o_proj(torch.cat((fwd, bwd), dim=-1))


class _AttentionSlot(nn.Module):
    """Holds the attention as ``.attention`` (the reference nests it one level deeper, and the
    checkpoint keys follow: ``layers.0.attention.attention.q_proj.weight``)."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.attention = BiForgettingAttention(d_model, n_heads)

    def forward(self, h: Tensor, valid: Tensor) -> Tensor:
        return self.attention(h, valid)


class _FFN(nn.Module):
    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff, bias=False)
        self.linear2 = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, h: Tensor) -> Tensor:
        return self.linear2(torch.relu(self.linear1(h)))


class FoxEncoderLayer(nn.Module):
    """Post-norm block: ``mid = LN1(h + BiFoX(h))``, ``out = LN2(mid + FFN(mid))``."""

    def __init__(self, d_model: int, d_ff: int, n_heads: int):
        super().__init__()
        self.attention = _AttentionSlot(d_model, n_heads)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = _FFN(d_model, d_ff)

    def forward(self, h: Tensor, valid: Tensor) -> Tensor:
        mid = self.norm1(h + self.attention(h, valid))
        return self.norm2(mid + self.ffn(mid))


class FoxEncoder(nn.Module):
    """``layers`` in sequence, then a final LayerNorm (``norm``)."""

    def __init__(self, d_model: int, d_ff: int, n_heads: int, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            FoxEncoderLayer(d_model, d_ff, n_heads) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(self, h: Tensor, valid: Tensor) -> Tensor:
        for layer in self.layers:
            h = layer(h, valid)
        return self.norm(h)


def pair_pool(h: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """Masked average of consecutive token pairs ``(2r, 2r+1)``:
    ``(a m_a + b m_b) / (m_a + m_b + 1e-5)``, new mask ``m_a | m_b`` (the reference's token
    pooling). An odd length gets one padded token at the end (the reference requires even)."""
    n, length, d = h.shape
    half = (length + 1) // 2
    # Always append one masked token and keep 2*half of them: no branch on the length, so
    # the exported graph keeps a dynamic sequence axis.
    h = F.pad(h, (0, 0, 0, 1))[:, : 2 * half]
    m = F.pad(valid.to(h.dtype), (0, 1))[:, : 2 * half]
    h = h.reshape(n, half, 2, d)
    m = m.reshape(n, half, 2)
    a_m, b_m = m[..., 0:1], m[..., 1:2]
    pooled = (h[:, :, 0] * a_m + h[:, :, 1] * b_m) / (a_m + b_m + 1e-5)
    return pooled, (a_m + b_m).squeeze(-1) > 0


def masked_mean(h: Tensor, valid: Tensor) -> Tensor:
    """``sum_l h_l m_l / (sum_l m_l + 1e-5)`` over the sequence: ``[N, L, D] -> [N, D]``."""
    m = valid.to(h.dtype).unsqueeze(-1)
    return (h * m).sum(dim=1) / (m.sum(dim=1) + 1e-5)


class Event2Vec(nn.Module):
    """Event2Vec (current method): event tokens ``x, y, t, p [N, L]`` and ``valid_mask [N, L]``
    -> logits ``[N, n_classes]``. See the module docstring for the input layout.

    ``pool_every=k`` (> 0) splits the encoder into stages of k layers, each with its own final
    LayerNorm and followed by pairwise token pooling (DVS Gesture); 0 is one encoder and one
    final LayerNorm (ASL-DVS).
    """

    def __init__(
        self,
        sensor_size: tuple[int, int],
        n_classes: int,
        *,
        polarities: int = 2,
        d_model: int = 64,
        d_ff: int = 128,
        n_heads: int = 2,
        n_layers: int = 2,
        pool_every: int = 0,
        temporal_mask: bool = False,
    ):
        super().__init__()
        width, height = (int(s) for s in sensor_size)
        if width < 2 or height < 2:
            raise ConfigError(f"sensor_size (W, H) must be at least (2, 2), got {sensor_size}")
        if polarities < 2:
            raise ConfigError(f"polarities must be >= 2, got {polarities}")
        if n_classes < 1 or n_layers < 1 or d_ff < 1:
            raise ConfigError(
                f"n_classes, n_layers and d_ff must be >= 1, got {n_classes}, {n_layers}, {d_ff}"
            )
        if d_model < 4 or d_model % 4:
            raise ConfigError(f"d_model must be a positive multiple of 4, got {d_model}")
        if n_heads < 1 or d_model % n_heads:
            raise ConfigError(f"n_heads ({n_heads}) must divide d_model ({d_model})")
        if pool_every < 0 or (pool_every and n_layers % pool_every):
            raise ConfigError(
                f"pool_every must be 0 or divide n_layers ({n_layers}), got {pool_every}"
            )
        self.sensor_size = (width, height)
        self.n_classes = n_classes
        self.pool_every = pool_every
        self.embed_net = SpatialMLP(d_model, (width, height), polarities)
        self.tpe = TemporalConv(d_model, mask_padding=temporal_mask)
        self.backbone_net: nn.Module
        if pool_every:
            self.backbone_net = nn.ModuleList(
                FoxEncoder(d_model, d_ff, n_heads, pool_every)
                for _ in range(n_layers // pool_every)
            )
        else:
            self.backbone_net = FoxEncoder(d_model, d_ff, n_heads, n_layers)
        self.heads = nn.Linear(d_model, n_classes)

    def embed(
        self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid_mask: Tensor
    ) -> dict[str, Tensor]:
        """The encoder input and its parts: ``dt [N, L]``, ``spatial``, ``temporal`` and
        ``tokens = (spatial + temporal) * valid`` (each ``[N, L, D]``)."""
        valid = valid_mask.bool()
        dt = time_steps(t, valid)
        spatial = self.embed_net(x, y, p, valid)
        temporal = self.tpe(dt, valid)
        tokens = (spatial + temporal) * valid.unsqueeze(-1).to(spatial.dtype)
        return {"dt": dt, "spatial": spatial, "temporal": temporal, "tokens": tokens}

    def encode(self, tokens: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder output and its mask (shorter than the input after pooling stages)."""
        if isinstance(self.backbone_net, nn.ModuleList):
            for stage in self.backbone_net:
                tokens, valid = pair_pool(stage(tokens, valid), valid)
            return tokens, valid
        return self.backbone_net(tokens, valid), valid

    def forward(self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid_mask: Tensor) -> Tensor:
        """``x, y, t, p``: float ``[N, L]``; ``valid_mask``: bool ``[N, L]`` -> ``[N, classes]``."""
        if not _is_tracing():
            self._check(x, y, t, p, valid_mask)
        valid = valid_mask.bool()
        tokens = self.embed(x, y, t, p, valid)["tokens"]
        h, valid = self.encode(tokens, valid)
        return self.heads(masked_mean(h, valid))

    def _check(self, x: Tensor, y: Tensor, t: Tensor, p: Tensor, valid_mask: Tensor) -> None:
        shapes = {k: tuple(v.shape) for k, v in zip("xytp", (x, y, t, p), strict=True)}
        shapes["valid_mask"] = tuple(valid_mask.shape)
        if len(set(shapes.values())) != 1 or len(shapes["x"]) != 2:
            raise ConfigError(
                f"Event2Vec takes x, y, t, p and valid_mask of one shape [N, L] "
                f"(pad_tokens' layout), got {shapes}"
            )
        if shapes["x"][1] == 0:
            raise ConfigError("Event2Vec needs at least one token per sample (L >= 1)")
        for name, v in zip("xytp", (x, y, t, p), strict=True):
            if not v.is_floating_point():
                raise ConfigError(
                    f"Event2Vec's {name} must be a float tensor (pad_tokens gives float32), "
                    f"got {v.dtype}"
                )


def _cfg(**overrides: Any) -> dict[str, Any]:
    """The released configurations' shared settings, with an entry's differences."""
    cfg: dict[str, Any] = dict(
        polarities=2, d_model=64, d_ff=128, n_heads=2, n_layers=2, pool_every=0
    )
    cfg.update(overrides)
    return cfg


def _create_event2vec(cfg: dict[str, Any], overrides: dict[str, Any]) -> Event2Vec:
    merged = {**cfg, **overrides}
    merged["sensor_size"] = tuple(merged["sensor_size"])
    return Event2Vec(**merged)


@register_model
def event2vec_asldvs(**overrides: Any) -> Event2Vec:
    """Event2Vec (current method), ASL-DVS: 240x180, 24 classes, 71,580 parameters.

    D 64, FFN 128, 2 heads, 2 layers, one final LayerNorm, masked mean."""
    return _create_event2vec(_cfg(sensor_size=(240, 180), n_classes=24), overrides)


@register_model
def event2vec_dvsgesture(**overrides: Any) -> Event2Vec:
    """Event2Vec (current method), DVS Gesture: 128x128, 11 classes, 137,619 parameters.

    D 64, FFN 128, 2 heads, 4 single-layer stages, each with its own final LayerNorm and then
    pairwise token pooling (L must not be odd for the reference; here odd lengths are padded)."""
    return _create_event2vec(
        _cfg(sensor_size=(128, 128), n_classes=11, n_layers=4, pool_every=1), overrides
    )
