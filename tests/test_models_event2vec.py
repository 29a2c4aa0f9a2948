"""Event2Vec, current method (`spikestream.models.event2vec`): the reference's embeddings
(golden G2, bit for bit), the whole classifier (golden Part 3: every layer, logits, loss and
gradients), the attention op alone, parameter counts, padding, batching and compilation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spikestream import models
from spikestream.errors import ConfigError
from spikestream.models.event2vec import Event2Vec, forgetting_attention, masked_mean, pair_pool

from .conftest import load_golden

EMBED = "G_event2vec_main_embed.npz"
MAIN = "G_event2vec_main.npz"
EMBED_PARAMS = ("embed_net.", "tpe.")


def _inputs(z, prefix: str = "") -> dict[str, torch.Tensor]:
    out = {k: torch.from_numpy(z[prefix + k].copy()) for k in "xytp"}
    out["valid_mask"] = torch.from_numpy(z[prefix + "valid_mask"].copy())
    return out


def _state_dict(z, prefix: str = "") -> dict[str, torch.Tensor]:
    names = [str(n) for n in z[prefix + "state_dict_names"]]
    return {n: torch.from_numpy(z[f"{prefix}sd/{n}"].copy()) for n in names}


def _grads_close(net: torch.nn.Module, z, prefix: str = "", only: tuple[str, ...] = ()) -> None:
    for name, param in net.named_parameters():
        if only and not name.startswith(only):
            continue
        assert param.grad is not None, name
        np.testing.assert_allclose(
            param.grad.numpy(), z[f"{prefix}grad/{name}"], rtol=1e-4, atol=1e-5, err_msg=name
        )


# --- embeddings (golden G2) -------------------------------------------------------------------


def test_embeddings_match_reference_bit_for_bit() -> None:
    z = load_golden(EMBED)
    net = models.create("event2vec_asldvs")
    sd = {n: torch.from_numpy(z[f"sd/{n}"]) for n in map(str, z["state_dict_names"])}
    assert set(sd) == {n for n in net.state_dict() if n.startswith(EMBED_PARAMS)}
    net.load_state_dict(sd, strict=False)
    net.eval()
    with torch.no_grad():
        out = net.embed(**_inputs(z))
    for key in ("dt", "spatial", "temporal", "tokens"):
        np.testing.assert_array_equal(out[key].numpy(), z[key], err_msg=key)
    # Padded rows of the encoder input are exactly 0.
    assert not out["tokens"][~torch.from_numpy(z["valid_mask"])].any()


def test_embedding_gradients_match_reference() -> None:
    z = load_golden(EMBED)
    net = models.create("event2vec_asldvs")
    sd = {n: torch.from_numpy(z[f"sd/{n}"]) for n in map(str, z["state_dict_names"])}
    net.load_state_dict(sd, strict=False)
    net.train()
    tokens = net.embed(**_inputs(z))["tokens"]
    np.testing.assert_array_equal(tokens.detach().numpy(), z["tokens_train"])
    loss = (tokens * torch.from_numpy(z["G"])).sum()
    np.testing.assert_allclose(loss.item(), z["loss"], rtol=1e-6, atol=1e-6)
    loss.backward()
    _grads_close(net, z, only=EMBED_PARAMS)


# --- whole classifier (golden Part 3) ---------------------------------------------------------

CONFIGS = [("", "event2vec_asldvs", 71_580), ("dvsg/", "event2vec_dvsgesture", 137_619)]


@pytest.mark.parametrize(("prefix", "name", "count"), CONFIGS)
def test_parameter_count_and_key_names(prefix: str, name: str, count: int) -> None:
    net = models.create(name)
    assert sum(p.numel() for p in net.parameters()) == count
    assert not list(net.buffers())  # the state_dict is exactly the parameters, as the reference's
    z = load_golden(MAIN)
    assert int(z[prefix + "param_count"]) == count
    assert list(net.state_dict()) == [str(n) for n in z[prefix + "state_dict_names"]]
    net.load_state_dict(_state_dict(z, prefix), strict=True)


@pytest.mark.parametrize(("prefix", "name", "count"), CONFIGS)
def test_every_layer_and_logits_match_reference(prefix: str, name: str, count: int) -> None:
    z = load_golden(MAIN)
    net = models.create(name)
    net.load_state_dict(_state_dict(z, prefix))
    net.eval()
    inputs = _inputs(z, prefix)
    tol = {"rtol": 0, "atol": 1e-5}  # the golden README's tolerance for attention onwards
    with torch.no_grad():
        emb = net.embed(**inputs)
        for key in ("dt", "spatial", "temporal", "tokens"):
            np.testing.assert_array_equal(emb[key].numpy(), z[prefix + key], err_msg=key)
        h, valid = emb["tokens"], inputs["valid_mask"]
        stages = list(net.backbone_net) if prefix else [net.backbone_net]
        index = 0
        for s, stage in enumerate(stages):
            for layer in stage.layers:
                att = layer.attention.attention
                q, k, v, log_f = att.project(h)
                fwd, bwd = att.directions(h, valid)
                attn_out = att.o_proj(torch.cat((fwd, bwd), dim=-1))
                mid = layer.norm1(h + attn_out)
                out = layer(h, valid)
                got = {
                    "q": q, "k": k, "v": v, "f_logit": att.f_proj(h), "log_f": log_f,
                    "attn_fwd": fwd, "attn_bwd": bwd, "attn_out": attn_out, "mid": mid,
                    "out": out,
                }  # fmt: skip
                for key, val in got.items():
                    ref = z[f"{prefix}layer{index}/{key}"]
                    np.testing.assert_allclose(
                        val.numpy(), ref, **tol, err_msg=f"layer{index}/{key}"
                    )
                # Padded positions get no attention in either direction.
                assert not fwd[~valid].any() and not bwd[~valid].any()
                h, index = out, index + 1
            h = stage.norm(h)
            if prefix:
                np.testing.assert_allclose(h.numpy(), z[f"{prefix}enc{s}_out"], **tol)
                h, valid = pair_pool(h, valid)
                np.testing.assert_allclose(h.numpy(), z[f"{prefix}pool{s}_tokens"], **tol)
                np.testing.assert_array_equal(valid.numpy(), z[f"{prefix}pool{s}_mask"])
            else:
                np.testing.assert_allclose(h.numpy(), z["enc_out"], **tol)
        np.testing.assert_allclose(masked_mean(h, valid).numpy(), z[prefix + "pooled"], **tol)
        logits = net(**inputs)
    assert logits.shape == (3, net.n_classes)
    np.testing.assert_allclose(logits.numpy(), z[prefix + "logits"], **tol)


@pytest.mark.parametrize(("prefix", "name", "count"), CONFIGS)
def test_training_loss_and_gradients_match_reference(prefix: str, name: str, count: int) -> None:
    z = load_golden(MAIN)
    net = models.create(name)
    net.load_state_dict(_state_dict(z, prefix))
    net.train()
    logits = net(**_inputs(z, prefix))
    np.testing.assert_allclose(logits.detach().numpy(), z[prefix + "logits_train"], atol=1e-5)
    loss = F.cross_entropy(logits, torch.from_numpy(z[prefix + "label"]))
    np.testing.assert_allclose(loss.item(), z[prefix + "loss_train"], rtol=0, atol=1e-6)
    loss.backward()
    _grads_close(net, z, prefix)


def test_attention_op_matches_packed_reference() -> None:
    """The fla-layout unit vectors: three packed sequences (lengths 5, 1, 7), 4 query heads over
    2 kv heads, scale 8^-0.5; unpacked into a padded batch for our op."""
    z = load_golden(MAIN)
    cu = z["fox_test/cu_seqlens"]
    lengths = np.diff(cu)
    longest = int(lengths.max())
    q, k, v, g = (torch.from_numpy(z[f"fox_test/{n}"][0]) for n in "qkvg")

    def batch(a: torch.Tensor) -> torch.Tensor:  # [T, H, ...] packed -> [B, H, L, ...] padded
        out = a.new_zeros((len(lengths), longest, *a.shape[1:]))
        for b, (lo, hi) in enumerate(itertools.pairwise(cu)):
            out[b, : hi - lo] = a[lo:hi]
        return out.transpose(1, 2)

    valid = torch.arange(longest)[None, :] < torch.from_numpy(lengths)[:, None]
    fwd, _ = forgetting_attention(batch(q), batch(k), batch(v), batch(g), valid, 8**-0.5)
    got = fwd.transpose(1, 2)[valid]  # back to the packed order
    np.testing.assert_allclose(got.numpy(), z["fox_test/o"][0], rtol=0, atol=1e-5)


def test_attention_against_float64_loop() -> None:
    """Both directions against the definition, written as a per-sample loop in float64, with a
    mask that has a hole (only valid tokens are keys and decay)."""
    gen = torch.Generator().manual_seed(5)
    n, hq, hkv, length, d = 2, 4, 2, 9, 4
    q, k, v = (torch.randn(n, h, length, d, generator=gen) for h in (hq, hkv, hkv))
    log_f = F.logsigmoid(torch.randn(n, hq, length, generator=gen) + 1)
    valid = torch.ones(n, length, dtype=torch.bool)
    valid[0, 6:] = False
    valid[1, 3] = False
    fwd, bwd = forgetting_attention(q, k, v, log_f, valid)
    qd, kd, vd, gd = (a.double() for a in (q, k, v, log_f))
    for b in range(n):
        idx = valid[b].nonzero().flatten().tolist()
        for h in range(hq):
            kv = h // (hq // hkv)
            for i in idx:
                for direction, out in (("fwd", fwd), ("bwd", bwd)):
                    keys = [j for j in idx if (j <= i if direction == "fwd" else j >= i)]
                    logits = []
                    for j in keys:
                        lo, hi = (j, i) if direction == "fwd" else (i - 1, j - 1)
                        decay = sum(gd[b, h, m] for m in idx if lo < m <= hi)
                        logits.append(qd[b, h, i] @ kd[b, kv, j] / d**0.5 + decay)
                    w = torch.stack(logits).softmax(0)
                    ref = (w[:, None] * vd[b, kv, keys]).sum(0)
                    torch.testing.assert_close(out[b, h, i].double(), ref, rtol=0, atol=1e-6)
        for out in (fwd, bwd):
            assert not out[b, :, ~valid[b]].any()


# --- layout, padding, batching ----------------------------------------------------------------


def _random_tokens(n: int, length: int, sensor: tuple[int, int], seed: int) -> dict:
    gen = np.random.default_rng(seed)
    t = np.sort(gen.integers(0, 100_000, (n, length)), axis=1).astype(np.float32)
    t -= t[:, :1]
    return {
        "x": torch.from_numpy(gen.integers(0, sensor[0], (n, length)).astype(np.float32)),
        "y": torch.from_numpy(gen.integers(0, sensor[1], (n, length)).astype(np.float32)),
        "t": torch.from_numpy(t),
        "p": torch.from_numpy(gen.integers(0, 2, (n, length)).astype(np.float32)),
    }


def _slice(tok: dict, b: int, length: int) -> dict:
    return {k: v[b : b + 1, :length] for k, v in tok.items()}


@pytest.mark.parametrize("name", ["event2vec_asldvs", "event2vec_dvsgesture"])
def test_padding_values_never_matter(name: str) -> None:
    torch.manual_seed(0)
    net = models.create(name).eval()
    tok = _random_tokens(3, 32, net.sensor_size, seed=1)
    valid = torch.arange(32)[None, :] < torch.tensor([[32], [20], [5]])
    with torch.no_grad():
        ref = net(**{k: torch.where(valid, v, -1.0) for k, v in tok.items()}, valid_mask=valid)
        for fill in (0.0, 1e6, float("nan")):
            got = net(**{k: torch.where(valid, v, fill) for k, v in tok.items()}, valid_mask=valid)
            torch.testing.assert_close(got, ref, rtol=0, atol=0)
    assert torch.isfinite(ref).all()


def _padded(tok: dict, lengths: list[int], total: int) -> tuple[dict, torch.Tensor]:
    """Row b keeps its first ``lengths[b]`` tokens; every row is padded with -1 to ``total``."""
    valid = torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]
    out = {}
    for key, val in tok.items():
        wide = F.pad(val, (0, max(total - val.shape[1], 0)))[:, :total]
        out[key] = torch.where(valid, wide, -1.0)
    return out, valid


def _alone(net: torch.nn.Module, tok: dict, lengths: list[int]) -> torch.Tensor:
    """Each row run by itself, unpadded."""
    rows = []
    for b, n in enumerate(lengths):
        row = {k: v[b : b + 1, :n] for k, v in tok.items()}
        rows.append(net(**row, valid_mask=torch.ones(1, n, dtype=torch.bool)))
    return torch.cat(rows)


@pytest.mark.parametrize("name", ["event2vec_asldvs", "event2vec_dvsgesture"])
def test_temporal_mask_makes_output_independent_of_padding(name: str) -> None:
    """With ``temporal_mask=True`` a sample's logits equal its unpadded logits in any batch;
    the reference (default) sees 0, 1 or >= 2 padded slots at its last two valid tokens."""
    torch.manual_seed(0)
    exact = models.create(name).eval()
    masked = models.create(name, temporal_mask=True).eval()
    masked.load_state_dict(exact.state_dict())
    tok = _random_tokens(3, 40, exact.sensor_size, seed=2)
    lengths = [40, 21, 6]
    tol = {"rtol": 1e-5, "atol": 1e-5}
    with torch.no_grad():
        alone_exact = _alone(exact, tok, lengths)
        # Without padding the two modes are the same function.
        torch.testing.assert_close(_alone(masked, tok, lengths), alone_exact, rtol=0, atol=0)
        for total in (40, 41, 64):
            padded, valid = _padded(tok, lengths, total)
            torch.testing.assert_close(masked(**padded, valid_mask=valid), alone_exact, **tol)
            batched = exact(**padded, valid_mask=valid)
            if total == 40:  # sample 0 is not padded at all here
                torch.testing.assert_close(batched[0], alone_exact[0], **tol)
            assert not torch.allclose(batched[2], alone_exact[2], rtol=0, atol=1e-6)
        # The reference stops changing once >= 2 padded slots follow every sample.
        two = exact(**_padded(tok, lengths, 42)[0], valid_mask=_padded(tok, lengths, 42)[1])
        many = exact(**_padded(tok, lengths, 64)[0], valid_mask=_padded(tok, lengths, 64)[1])
        torch.testing.assert_close(two, many, **tol)


@pytest.mark.parametrize("name", ["event2vec_asldvs", "event2vec_dvsgesture"])
def test_batch_of_one_equals_row_of_batch(name: str) -> None:
    torch.manual_seed(0)
    net = models.create(name).eval()
    tok = _random_tokens(4, 24, net.sensor_size, seed=3)
    valid = torch.arange(24)[None, :] < torch.tensor([[24], [24], [17], [9]])
    with torch.no_grad():
        batch = net(**tok, valid_mask=valid)
        assert batch.shape == (4, net.n_classes)
        for b in range(4):
            one = net(**{k: v[b : b + 1] for k, v in tok.items()}, valid_mask=valid[b : b + 1])
            torch.testing.assert_close(one[0], batch[b], rtol=1e-5, atol=1e-5)
    # Different samples give different scores (the network is not constant).
    assert not torch.allclose(batch[0], batch[1])


def test_pipeline_tokens_feed_the_model() -> None:
    """`event_tokens` + `pad_tokens` output goes straight in (``model(**tokens, valid_mask)``);
    microsecond times and per-sample normalised times give the same logits."""
    from spikestream import events as E
    from spikestream.transforms.functional.tokens import event_tokens, pad_tokens

    gen = np.random.default_rng(4)
    samples_us, samples_norm = [], []
    for n in (50, 30):
        ev = E.make_events(
            np.sort(gen.integers(0, 10**6, n)), gen.integers(0, 240, n), gen.integers(0, 180, n),
            gen.integers(0, 2, n),
        )  # fmt: skip
        samples_us.append(event_tokens(ev, (240, 180), 64, norm_t="none"))
        samples_norm.append(event_tokens(ev, (240, 180), 64, norm_t="sample"))
    torch.manual_seed(0)
    net = models.create("event2vec_asldvs").eval()
    outs = []
    for samples in (samples_us, samples_norm):
        arrays, mask = pad_tokens(samples)
        assert mask.sum(1).tolist() == [50, 30]
        tokens = {k: torch.from_numpy(v) for k, v in arrays.items()}
        with torch.no_grad():
            outs.append(net(**tokens, valid_mask=torch.from_numpy(mask)))
    assert outs[0].shape == (2, 24)
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)


def test_edge_cases_stay_finite() -> None:
    """One token, all tokens at one time (the reference divides 0 by 0), an all-padded row, and
    an odd length through the DVS Gesture pooling stages."""
    torch.manual_seed(0)
    net = models.create("event2vec_dvsgesture").eval()
    tok = _random_tokens(3, 13, net.sensor_size, seed=5)
    tok["t"][1] = 7.0
    valid = torch.ones(3, 13, dtype=torch.bool)
    valid[2] = False
    with torch.no_grad():
        out = net(**tok, valid_mask=valid)
        one = net(**{k: v[:1, :1] for k, v in tok.items()}, valid_mask=valid[:1, :1])
    assert torch.isfinite(out).all() and torch.isfinite(one).all()
    # An empty row scores the head's bias alone (its pooled features are 0).
    torch.testing.assert_close(out[2], net.heads.bias.detach(), rtol=0, atol=0)
    # Odd lengths pool as if one masked token followed.
    h = torch.arange(10.0).reshape(1, 5, 2)
    pooled, mask = pair_pool(h, torch.tensor([[True, True, True, False, True]]))
    assert mask.tolist() == [[True, True, True]]
    torch.testing.assert_close(pooled[0, 2], h[0, 4] / 1.00001)
    torch.testing.assert_close(pooled[0, 1], h[0, 2] / 1.00001)


def test_bad_configuration_and_inputs_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="n_heads"):
        Event2Vec((128, 128), 11, n_heads=3)
    with pytest.raises(ConfigError, match="pool_every"):
        Event2Vec((128, 128), 11, n_layers=3, pool_every=2)
    with pytest.raises(ConfigError, match="sensor_size"):
        Event2Vec((1, 128), 11)
    with pytest.raises(ConfigError, match="d_model"):
        models.create("event2vec_asldvs", d_model=30)
    net = models.create("event2vec_asldvs")
    tok = _random_tokens(2, 8, net.sensor_size, seed=6)
    with pytest.raises(ConfigError, match="one shape"):
        net(**tok, valid_mask=torch.ones(2, 7, dtype=torch.bool))
    with pytest.raises(ConfigError, match="float"):
        net(**{**tok, "x": tok["x"].long()}, valid_mask=torch.ones(2, 8, dtype=torch.bool))


def test_registry_entries() -> None:
    assert {"event2vec_asldvs", "event2vec_dvsgesture"} <= set(models.list_models("event2vec_*"))
    assert "71,580" in models.describe("event2vec_asldvs")
    net = models.create("event2vec_dvsgesture", n_classes=5, sensor_size=[64, 48])
    assert net.heads.out_features == 5 and net.sensor_size == (64, 48)


def test_torch_compile_matches_eager() -> None:
    """The DVS Gesture model (pooling stages included) traces as one graph with no break, and
    the traced forward and backward equal eager. (``aot_eager``: inductor's first C++ compile
    of it takes over a minute on 2 cores; it gives the same logits, checked by hand.)"""
    torch.manual_seed(0)
    net = models.create("event2vec_dvsgesture", n_layers=2).eval()  # two pooling stages
    tok = _random_tokens(2, 16, net.sensor_size, seed=7)
    valid = torch.arange(16)[None, :] < torch.tensor([[16], [11]])
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    out = compiled(**tok, valid_mask=valid)
    ref = net(**tok, valid_mask=valid)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    grad = torch.autograd.grad(out.square().sum(), net.heads.weight)[0]
    torch.testing.assert_close(grad, torch.autograd.grad(ref.square().sum(), net.heads.weight)[0])


def test_bf16_autocast_runs_and_stays_near_float32() -> None:
    """Under CPU autocast (the recipes' bf16-mixed) the masked attention fills with the floor of
    the scores' own dtype: it used to fill a bf16 tensor with float32's minimum and fail."""
    torch.manual_seed(0)
    net = models.create("event2vec_asldvs").eval()
    n, length = 2, 64
    x = torch.randint(0, 240, (n, length)).float()
    y = torch.randint(0, 180, (n, length)).float()
    t = torch.rand(n, length).sort(1).values
    p = torch.randint(0, 2, (n, length)).float()
    mask = torch.ones(n, length, dtype=torch.bool)
    mask[1, 40:] = False
    with torch.no_grad():
        ref = net(x, y, t, p, mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x, y, t, p, mask)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    # bf16 keeps 8 bits of mantissa: a few parts in a hundred of the logits' range
    assert (out.float() - ref).abs().max() <= 0.03 * ref.abs().max()
