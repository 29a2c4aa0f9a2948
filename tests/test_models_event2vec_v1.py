"""Event2Vec v1 (`spikestream.models.event2vec_v1`) against golden file G (the original
``arxiv_v1`` code: data pipeline, state_dict, intermediates, logits, loss, every gradient), its
ablation variants, padding, batching, errors, checkpoints, compile and export."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spikestream import models
from spikestream.errors import ConfigError, MissingFileError, ValidationError
from spikestream.events import make_events
from spikestream.models.event2vec_v1 import Event2VecV1, load_original_checkpoint
from spikestream.transforms import functional as TF

from .conftest import load_golden

GOLDEN = "G_event2vec_v1.npz"
FIELDS = ("x", "y", "t", "p", "valid_mask")


def _t(z, key: str) -> torch.Tensor:
    return torch.from_numpy(np.asarray(z[key]))


def _golden_model(z) -> Event2VecV1:
    net = models.create("event2vec_v1_asldvs")
    sd = {k[3:]: _t(z, k) for k in z.files if k.startswith("sd/")}
    net.load_state_dict(sd, strict=True)
    return net


def _inputs(z) -> tuple[torch.Tensor, ...]:
    return tuple(_t(z, k) for k in FIELDS)


def _close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-5) -> None:
    """Within ``rel`` of the reference's largest magnitude (the attention sums run in another
    order than the reference's kernels, so near-zero entries carry absolute, not relative,
    rounding)."""
    err = (actual.detach() - expected).abs().max().item()
    assert err <= rel * expected.abs().max().item(), err


def _random_tokens(n: int, length: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 240, (n, length), generator=g)
    y = torch.randint(0, 180, (n, length), generator=g)
    t = torch.sort(torch.rand(n, length, generator=g), dim=1).values
    p = torch.randint(0, 2, (n, length), generator=g)
    return x, y, t, p, torch.ones(n, length, dtype=torch.bool)


SMALL = {"d_model": 32, "n_head": 4, "d_feedforward": 64, "n_layers": 1}


# -- golden G: construction -------------------------------------------------------------------


def test_state_dict_keys_order_and_parameter_count() -> None:
    z = load_golden(GOLDEN)
    net = models.create("event2vec_v1_asldvs")
    assert list(net.state_dict()) == [str(k) for k in z["state_dict_names"]]
    assert sum(p.numel() for p in net.parameters()) == int(z["param_count"]) == 1_083_370
    assert not list(net.buffers())  # the original has none: a checkpoint holds parameters only


def test_seeded_construction_is_the_originals_initialisation() -> None:
    # torch.manual_seed(0), construction, then the golden's recorded perturbation rebuilds the
    # stored weights bit for bit: same parameters, same init calls, same order
    z = load_golden(GOLDEN)
    rules = json.loads(str(z["__meta__"]))["perturbation"]
    torch.manual_seed(0)
    net = models.create("event2vec_v1_asldvs")
    g = torch.Generator().manual_seed(7001)
    with torch.no_grad():
        for name, param in net.named_parameters():
            rule = rules[name]
            if not rule.startswith("unchanged"):
                scale = 0.02 if rule.startswith("+= 0.02") else 0.1
                param += scale * torch.randn(param.shape, generator=g)
    for name, value in net.state_dict().items():
        assert torch.equal(value, _t(z, "sd/" + name)), name


# -- golden G: data pipeline ------------------------------------------------------------------


def test_token_pipeline_reproduces_the_originals_dataset_and_collate() -> None:
    z = load_golden(GOLDEN)
    samples = []
    for i in range(4):
        ev = make_events(*(z[f"rec{i}_{k}"] for k in "txyp"))
        rng = np.random.default_rng(int(z["sample_seeds"][i]))
        tok = TF.event_tokens(ev, (240, 180), 255, norm_t="dataset", t_scale=521_217, rng=rng)
        for k in "xytp":
            np.testing.assert_array_equal(tok[k], z[f"ds{i}_{k}"].astype(np.float32))
        samples.append(tok)
    padded, mask = TF.pad_tokens(samples)
    np.testing.assert_array_equal(mask, z["valid_mask"])
    for k in "xytp":  # -1 padding, as the original collate
        np.testing.assert_array_equal(padded[k], z[k].astype(np.float32))
    for n, k, s in [
        (1000, 255, 11),
        (256, 255, 12),
        (255, 255, 13),
        (100000, 255, 14),
        (30, 10, 15),
    ]:
        idx = TF.sample_indices(n, k, "random", rng=np.random.default_rng(s))
        np.testing.assert_array_equal(idx, z[f"random_sample_n{n}_k{k}_seed{s}"])


def test_float32_tokens_from_the_pipeline_give_the_golden_logits() -> None:
    # what pad_tokens hands over (float32 x, y, p) is the same model input as the int64 batch
    z = load_golden(GOLDEN)
    net = _golden_model(z).eval()
    x, y, t, p, valid = _inputs(z)
    # float fields and no mask (padding read from p = -1) give the int64 batch's logits
    assert torch.equal(net(x.float(), y.float(), t, p.float()), net(x, y, t, p, valid))


# -- golden G: forward ------------------------------------------------------------------------


def test_embeddings_are_bit_exact() -> None:
    z = load_golden(GOLDEN)
    net = _golden_model(z)
    x, y, t, p, valid = _inputs(z)
    xd, yd = net.downsample(x, y)
    assert torch.equal(xd, _t(z, "xdown")) and torch.equal(yd, _t(z, "ydown"))
    assert torch.equal(net.embed(p.clamp(0, 1), yd, xd, valid), _t(z, "embed_out"))
    assert torch.equal(net.tokens(x, y, t, p, valid), _t(z, "tokens_tpe"))
    t_in = _t(z, "offset_t_in")
    assert torch.equal(net.times(t_in, torch.ones_like(t_in, dtype=torch.bool)),
                       _t(z, "offset_t_out"))  # fmt: skip


def test_encoder_and_logits_match_the_standard_path() -> None:
    z = load_golden(GOLDEN)
    net = _golden_model(z).eval()
    x, y, t, p, valid = _inputs(z)
    layer0, layer1, enc = net.forward_features(x, y, t, p, valid)
    _close(layer0, _t(z, "enc_layer0_out"))
    _close(layer1, _t(z, "enc_layer1_out"))
    _close(enc, _t(z, "enc_out"))
    _close(enc[:, 0], _t(z, "cls_feat"))
    logits = net(x, y, t, p, valid)
    _close(logits, _t(z, "logits_eval"))
    torch.testing.assert_close(logits, _t(z, "logits_eval_nograd"), rtol=1e-5, atol=5e-6)


def test_no_grad_runs_the_same_function() -> None:
    # one path in every mode: under no_grad the logits and every valid position equal the
    # golden's fused path to rounding; its padded positions (LayerNorm(0)) never reach CLS
    z = load_golden(GOLDEN)
    net = _golden_model(z).eval()
    x, y, t, p, valid = _inputs(z)
    with torch.no_grad():
        enc = net.forward_features(x, y, t, p, valid)[-1]
        logits = net(x, y, t, p, valid)
    assert torch.equal(logits, net(x, y, t, p, valid).detach())
    keep = torch.cat((torch.ones(4, 1, dtype=torch.bool), valid), dim=1)
    _close(enc[keep], _t(z, "enc_out_nograd")[keep])
    _close(logits, _t(z, "logits_eval_nograd"))


# -- golden G: training mode, loss and every gradient -----------------------------------------


def test_training_loss_and_every_gradient() -> None:
    z = load_golden(GOLDEN)
    net = _golden_model(z).train()
    x, y, t, p, valid = _inputs(z)
    logits = net(x, y, t, p, valid)
    _close(logits, _t(z, "logits_train"))
    loss = F.cross_entropy(logits, _t(z, "label"))
    torch.testing.assert_close(loss, _t(z, "loss_train"), rtol=1e-6, atol=0)
    loss.backward()
    names = [k[5:] for k in z.files if k.startswith("grad/")]
    assert sorted(names) == sorted(n for n, _ in net.named_parameters())
    for name, param in net.named_parameters():
        assert param.grad is not None, name
        _close(param.grad, _t(z, "grad/" + name))
    for table in (net.embed.embed.embed_y, net.embed.embed.embed_x):  # padding row
        assert not table.weight.grad[0].any()


# -- batching and padding ---------------------------------------------------------------------


def test_padding_never_changes_the_output_and_batching_is_per_sample() -> None:
    torch.manual_seed(1)
    net = models.create("event2vec_v1_asldvs", **SMALL).eval()
    a = _random_tokens(1, 12, seed=1)
    b = _random_tokens(1, 20, seed=2)
    alone_a, alone_b = net(*a), net(*b)
    # a padded to 20 with garbage a -1 padding would never hold, in one batch with b
    pad = 8
    garbage = (
        torch.full((1, pad), 10**6),
        torch.full((1, pad), -5),
        torch.full((1, pad), float("nan")),
        torch.full((1, pad), 7),
    )
    fields = [
        torch.cat((torch.cat((f, g), dim=1), fb))
        for f, g, fb in zip(a[:4], garbage, b[:4], strict=True)
    ]
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[0, 12:] = False
    both = net(*fields, mask)
    assert torch.isfinite(both).all()
    torch.testing.assert_close(both[0:1], alone_a, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(both[1:2], alone_b, rtol=1e-5, atol=1e-6)
    assert both.shape == (2, 24) and alone_a.shape == (1, 24)


def test_a_sample_with_no_valid_event_still_gets_finite_scores() -> None:
    net = models.create("event2vec_v1_asldvs", **SMALL).eval()
    x, y, t, p, _ = _random_tokens(2, 5)
    mask = torch.zeros(2, 5, dtype=torch.bool)
    out = net(x, y, t, p, mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0], out[1])  # nothing but the CLS token is seen


# -- ablation variants ------------------------------------------------------------------------

# counts by hand for the ASL-DVS configuration (grid 36x48, P=2, d=256): encoder 2 x 527,104
# (in_proj 768x256+768, out_proj 256x256+256, linear1 512x256+512, linear2 256x512+256, two
# LayerNorms 4x256) + final LayerNorm 512 + CLS 256 + head 24x256+24 = 1,061,144, plus:
#   naive: (2*36*48+1) x 256 = 884,992; naive2d: 73x109 + 97x147 = 22,216 (d_y = int(36/84*256));
#   neighbour weights 2(2n+1) (naive2d) or 2n+1 (naive); t2v: Linear(1, 256) = 512
BASE = 1_061_144
VARIANTS = {
    "naive": ({"embed": "naive"}, BASE + 884_992),
    "naive2d": ({"embed": "naive2d"}, BASE + 22_216),
    "neighbor1d-naive2d-1-1": ({"embed": "neighbor1d-naive2d-1-1"}, BASE + 22_216 + 6),
    "neighbor1d-naive2d-3-2": ({"embed": "neighbor1d-naive2d-3-2"}, BASE + 22_216 + 14),
    "neighbor1d-naive-2-1": ({"embed": "neighbor1d-naive-2-1"}, BASE + 884_992 + 5),
    "t2v": ({"tpe": "t2v"}, BASE + 22_216 + 10 + 512),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_builds_runs_and_has_its_parameter_count(name: str) -> None:
    overrides, count = VARIANTS[name]
    net = models.create("event2vec_v1_asldvs", **overrides)
    assert sum(p.numel() for p in net.parameters()) == count
    x, y, t, p, valid = _random_tokens(2, 9)
    valid[1, 6:] = False
    out = net(x, y, t, p, valid)
    assert out.shape == (2, 24) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(q.grad is not None and torch.isfinite(q.grad).all() for q in net.parameters())


def test_naive_reads_one_row_per_event() -> None:
    net = Event2VecV1(embed="naive", **SMALL)
    p = torch.tensor([[0, 1, 1]])
    y = torch.tensor([[0, 35, 7]])
    x = torch.tensor([[0, 47, 9]])
    valid = torch.tensor([[True, True, False]])
    rows = p * 36 * 48 + y * 48 + x + 1
    expected = net.embed.weight[rows[0]] * valid[0, :, None]
    assert torch.equal(net.embed(p, y, x, valid)[0], expected)


def test_neighbour_sums_clamp_before_the_polarity_offset() -> None:
    net = Event2VecV1(embed="neighbor1d-naive2d-1-2", **SMALL)
    d_y = int(36 / 84 * 32)
    ey, ex = net.embed.embed.embed_y.weight, net.embed.embed.embed_x.weight
    c_y, c_x = net.embed.c_y.flatten(), net.embed.c_x.flatten()
    torch.testing.assert_close(c_y, torch.tensor([math.exp(-0.5), 1.0, math.exp(-0.5)]))
    p, y, x = torch.tensor([[1]]), torch.tensor([[35]]), torch.tensor([[1]])
    out = net.embed(p, y, x, torch.ones(1, 1, dtype=torch.bool))[0, 0]
    # y 35 +- 2 -> rows of (33, 35, 35); x 1 +- 2 -> (0, 1, 3); polarity 1 after the clamp
    want_y = sum(c * ey[36 + r + 1] for c, r in zip(c_y, (33, 35, 35), strict=True))
    want_x = sum(c * ex[48 + r + 1] for c, r in zip(c_x, (0, 1, 3), strict=True))
    torch.testing.assert_close(out[:d_y], want_y)
    torch.testing.assert_close(out[d_y:], want_x)


def test_neighbor1d_naive_takes_diagonal_neighbours() -> None:
    net = Event2VecV1(embed="neighbor1d-naive-1-1", **SMALL)
    w, c = net.embed.embed.weight, net.embed.c.flatten()
    p, y, x = torch.tensor([[0]]), torch.tensor([[10]]), torch.tensor([[0]])
    out = net.embed(p, y, x, torch.ones(1, 1, dtype=torch.bool))[0, 0]
    cells = ((9, 0), (10, 0), (11, 1))  # (y + k, clamp(x + k)) for k = -1, 0, 1
    torch.testing.assert_close(
        out, sum(ci * w[yy * 48 + xx + 1] for ci, (yy, xx) in zip(c, cells, strict=True))
    )


def test_time2vec_encoding() -> None:
    net = Event2VecV1(tpe="t2v", **SMALL)
    t = torch.tensor([[0.0, 0.25, 0.9]])
    enc = net.tpe(t, torch.zeros(1, 3, 32))
    v = t[..., None] * net.tpe.transform.fc.weight[:, 0] + net.tpe.transform.fc.bias
    torch.testing.assert_close(enc[..., 0], v[..., 0])
    torch.testing.assert_close(enc[..., 1:], torch.sin(v[..., 1:]))
    assert {"tpe.transform.fc.weight", "tpe.transform.fc.bias"} <= set(net.state_dict())


def test_grid_equal_to_sensor_takes_grid_coordinates() -> None:
    net = Event2VecV1(sensor_size=(48, 36), **SMALL).eval()
    coarse = Event2VecV1(**SMALL).eval()
    coarse.load_state_dict(net.state_dict())
    x, y, t, p, valid = _random_tokens(2, 6)
    xd, yd = coarse.downsample(x, y)
    torch.testing.assert_close(net(xd, yd, t, p, valid), coarse(x, y, t, p, valid))


# -- checkpoints ------------------------------------------------------------------------------


def test_lightning_checkpoint_of_a_compiled_module_loads(tmp_path) -> None:
    z = load_golden(GOLDEN)
    sd = {"_orig_mod." + k[3:]: _t(z, k) for k in z.files if k.startswith("sd/")}
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": sd, "epoch": 63}, path)
    net = load_original_checkpoint(models.create("event2vec_v1_asldvs"), path)
    assert torch.equal(net.classifier.head.bias, _t(z, "sd/classifier.head.bias"))
    with pytest.raises(ConfigError, match=r"missing.*embed\.weight"):
        load_original_checkpoint(models.create("event2vec_v1_asldvs", embed="naive"), path)
    with pytest.raises(ConfigError, match="size mismatch"):
        load_original_checkpoint(models.create("event2vec_v1_asldvs", n_classes=10), path)
    with pytest.raises(MissingFileError):
        load_original_checkpoint(net, tmp_path / "nothing.ckpt")
    torch.save({"state_dict": sd, "cfg": argparse.Namespace(lr=1e-3)}, path)  # pickled object
    with pytest.raises(ConfigError, match="weights_only"):
        load_original_checkpoint(net, path)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"embed": "neighbor2d-naive-2-1"}, "embed must be one of"),
        ({"embed": "neighbor1d-naive2d-2-0"}, "dilation"),
        ({"tpe": "sin"}, "tpe must be one of"),
        ({"grid": (480, 36)}, "larger than sensor_size"),
        ({"d_model": 250}, "not divisible by n_head"),
        ({"dropout": 1.0}, "dropout"),
        ({"n_layers": 0}, "n_layers"),
        ({"no_such_option": 1}, "no_such_option"),
    ],
)
def test_bad_options_raise_config_error(overrides: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        models.create("event2vec_v1_asldvs", **overrides)


def test_bad_inputs_raise() -> None:
    net = Event2VecV1(**SMALL)
    x, y, t, p, valid = _random_tokens(2, 4)
    with pytest.raises(ConfigError, match=r"one shape \[N, L\]"):
        net(x, y, t[:, :3], p, valid)
    with pytest.raises(ConfigError, match=r"one shape \[N, L\]"):
        net(x[0], y[0], t[0], p[0])
    with pytest.raises(ConfigError, match="float times"):
        net(x, y, (t * 1000).long(), p, valid)
    p[1, 2] = 2
    with pytest.raises(ValidationError, match="sample 1, token 2 has polarity 2") as info:
        net(x, y, t, p, valid)
    assert info.value.index == 2 and info.value.field == "p"
    valid[1, 2] = False  # the same value in a padded slot is fine
    assert torch.isfinite(net(x, y, t, p, valid)).all()


# -- compile and export -----------------------------------------------------------------------


def test_export_with_dynamic_batch_and_length() -> None:
    # torch.export (the graph capture under torch.onnx.export's dynamo exporter and
    # torch.compile) succeeds with symbolic N and L, so the forward has no branch on values
    net = models.create("event2vec_v1_asldvs", **SMALL).eval()
    n_dim, l_dim = torch.export.Dim("N", min=1, max=4096), torch.export.Dim("L", min=2, max=1 << 16)
    example = _random_tokens(3, 10)
    prog = torch.export.export(
        net, example, dynamic_shapes=tuple({0: n_dim, 1: l_dim} for _ in FIELDS)
    )
    for n, length in ((1, 7), (4, 33)):
        inp = _random_tokens(n, length, seed=n)
        inp[4][0, length // 2 :] = False
        torch.testing.assert_close(prog.module()(*inp), net(*inp), rtol=1e-5, atol=1e-6)


def test_torch_compile_matches_eager() -> None:
    # the whole forward in one graph (fullgraph: no break); aot_eager keeps the test cheap
    # (inductor, the default backend, compiles it too: about 10 s on 2 cores)
    net = models.create("event2vec_v1_asldvs", **SMALL).eval()
    inp = _random_tokens(3, 10)
    inp[4][1, 6:] = False
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(*inp), net(*inp), rtol=1e-5, atol=1e-6)
