#!/usr/bin/python3
"""Checks of the PyTorch oracle's own pieces (gpt_reference.py), so that a
disagreement with trident points at trident: RoPE and grouped-query
attention against loops written from the formulas, trident's layout read
by a second, naive model (heads looked up directly in the fused Q|K|V
weight, no renaming), the renaming's round trip, the GPT-2 model against
the HF-named one, finite differences, and the hf-logits mode against the
oracle on checkpoints written in F32, F16 and BF16.

/usr/bin/python3 gpt_reference_self_test.py; exit 77 (skipped) without torch.
"""
import math
import os
import subprocess
import sys
import tempfile
import json

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_reference as ref  # noqa: E402

if ref.torch is None:
    print("skipped: Debian's python3-torch is not installed")
    sys.exit(77)
import torch  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


def trident_config(**overrides):
    """A small GptConfig::to_json() (flag names), Llama by default: H=4, G=2."""
    j = {"num_layers": 2, "hidden_size": 16, "num_attention_heads": 4, "seq_length": 7, "vocab_size": 13,
         "position_embedding_type": "rope", "rotary_base": 10000.0, "normalization": "RMSNorm",
         "norm_epsilon": 1e-5, "swiglu": True, "ffn_hidden_size": 12, "group_query_attention": True,
         "num_query_groups": 2, "untie_embeddings_and_output_weights": True, "disable_bias_linear": True}
    j.update(overrides)
    return j


GPT2 = dict(position_embedding_type="learned_absolute", normalization="LayerNorm", swiglu=False, ffn_hidden_size=64,
            group_query_attention=False, untie_embeddings_and_output_weights=False, disable_bias_linear=False)
CONFIGS = {
    "llama": trident_config(),
    "llama_mha_theta500": trident_config(group_query_attention=False, rotary_base=500.0),
    "mixed_rope_layernorm_swiglu_G1_bias_tied": trident_config(normalization="LayerNorm", num_query_groups=1,
                                                               disable_bias_linear=False,
                                                               untie_embeddings_and_output_weights=False),
    "mixed_learned_rmsnorm_gelu_G2_untied": trident_config(position_embedding_type="learned_absolute", swiglu=False,
                                                           ffn_hidden_size=20),
    "gpt2": trident_config(**GPT2),
}


def trident_shapes(j):
    """trident's parameter names and shapes, written from the layout the
    model documents (gpt_model.cc parameter_names, self_attention.h)."""
    a = ref.Arch.from_trident(j)
    C, V, D = a.hidden, a.vocab, a.head_dim
    s = {"embedding.word_embeddings.weight": (V, C)}
    if not a.rope:
        s["embedding.position_embeddings.weight"] = (j["seq_length"], C)
    for i in range(a.layers):
        p = f"layers.{i}."
        parts = {"ln1": (C,), "attn.qkv": ((a.heads + 2 * a.kv_heads) * D, C), "attn.proj": (C, a.heads * D),
                 "ln2": (C,), "mlp.fc1": ((2 if a.swiglu else 1) * a.ffn, C), "mlp.fc2": (C, a.ffn)}
        for part, shape in parts.items():
            s[p + part + ".weight"] = shape
            norm = part.startswith("ln")
            if (norm and not a.rms_norm) or (not norm and a.attention_bias):
                s[p + part + ".bias"] = shape[:1]
    s["final_ln.weight"] = (C,)
    if not a.rms_norm:
        s["final_ln.bias"] = (C,)
    if not a.tied:
        s["output_layer.weight"] = (V, C)
    return s


def random_params(j, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in trident_shapes(j).items():
        t = torch.randn(*shape, generator=g) * (0.3 if len(shape) == 2 else 0.2)
        if name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "final_ln.weight":
            t = t + 1.0
        out[name] = t
    return out


def random_batch(j, B=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    T = j["seq_length"]
    return (torch.randint(0, j["vocab_size"], (B, T), generator=g),
            torch.randint(0, j["vocab_size"], (B, T), generator=g))


def naive_trident_logits(p, tokens, j):
    """trident's model read straight from its own layout: query head t takes
    columns [t·D, (t+1)·D) of the fused projection, its key and value those
    of head t mod G after the H query heads; pair i of a head is (x_i,
    x_{i+D/2}), turned by t·base^(−2i/D). Loops over heads and pairs."""
    a = ref.Arch.from_trident(j)
    B, T = tokens.shape
    H, G, D, C = a.heads, a.kv_heads, a.head_dim, a.hidden

    def nrm(x, pre):
        if a.rms_norm:
            return x / torch.sqrt((x * x).mean(-1, keepdim=True) + a.eps) * p[pre + ".weight"]
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + a.eps) * p[pre + ".weight"] + p[pre + ".bias"]

    def lin(x, pre, bias):
        y = x @ p[pre + ".weight"].t()
        return y + p[pre + ".bias"] if bias else y

    def turn(x):  # x (B, T, D) of one head
        out = x.clone()
        for t in range(T):
            for i in range(D // 2):
                ang = t * a.rope_theta ** (-2.0 * i / D)
                c, s = math.cos(ang), math.sin(ang)
                out[:, t, i] = x[:, t, i] * c - x[:, t, i + D // 2] * s
                out[:, t, i + D // 2] = x[:, t, i + D // 2] * c + x[:, t, i] * s
        return out

    x = p["embedding.word_embeddings.weight"][tokens]
    if not a.rope:
        x = x + p["embedding.position_embeddings.weight"][:T]
    causal = torch.tril(torch.ones(T, T)).bool()
    for i in range(a.layers):
        pre = f"layers.{i}."
        qkv = lin(nrm(x, pre + "ln1"), pre + "attn.qkv", a.attention_bias)
        heads = []
        for t in range(H):
            g = t % G
            q = qkv[..., t * D:(t + 1) * D]
            k = qkv[..., (H + g) * D:(H + g + 1) * D]
            v = qkv[..., (H + G + g) * D:(H + G + g + 1) * D]
            if a.rope:
                q, k = turn(q), turn(k)
            s = (q @ k.transpose(1, 2)) / math.sqrt(D)
            s = torch.where(causal, s, torch.tensor(-math.inf))
            heads.append(torch.softmax(s, -1) @ v)
        x = x + lin(torch.cat(heads, -1), pre + "attn.proj", a.attention_bias)
        f = lin(nrm(x, pre + "ln2"), pre + "mlp.fc1", a.mlp_bias)
        if a.swiglu:
            gate, up = f[..., :a.ffn], f[..., a.ffn:]
            act = gate / (1 + torch.exp(-gate)) * up
        else:
            act = 0.5 * f * (1 + torch.tanh(math.sqrt(2 / math.pi) * (f + 0.044715 * f ** 3)))
        x = x + lin(act, pre + "mlp.fc2", a.mlp_bias)
    x = nrm(x, "final_ln")
    return x @ p["embedding.word_embeddings.weight" if a.tied else "output_layer.weight"].t()


def hf_to_trident(hf, j):
    """The renaming's inverse, with the inverse head permutation (for the round trip)."""
    a = ref.Arch.from_trident(j)
    H, G, D, C = a.heads, a.kv_heads, a.head_dim, a.hidden
    inv = torch.tensor(np.argsort(ref.hf_query_heads(H, G)))
    out = {"embedding.word_embeddings.weight": hf["model.embed_tokens.weight"]}
    if not a.rope:
        out["embedding.position_embeddings.weight"] = hf["model.embed_positions.weight"]
    parts = ["weight"] + ([] if a.rms_norm else ["bias"])
    lin_parts = ["weight"] + (["bias"] if a.attention_bias else [])
    for i in range(a.layers):
        t, h = f"layers.{i}.", f"model.layers.{i}."
        for part in parts:
            out[f"{t}ln1.{part}"] = hf[f"{h}input_layernorm.{part}"]
            out[f"{t}ln2.{part}"] = hf[f"{h}post_attention_layernorm.{part}"]
        for part in lin_parts:
            q = hf[f"{h}self_attn.q_proj.{part}"]
            q = q.reshape(H, D, *q.shape[1:])[inv].reshape(q.shape)
            out[f"{t}attn.qkv.{part}"] = torch.cat([q, hf[f"{h}self_attn.k_proj.{part}"], hf[f"{h}self_attn.v_proj.{part}"]])
            fc1 = [hf[f"{h}mlp.gate_proj.{part}"]] if a.swiglu else []
            out[f"{t}mlp.fc1.{part}"] = torch.cat(fc1 + [hf[f"{h}mlp.up_proj.{part}"]])
            out[f"{t}mlp.fc2.{part}"] = hf[f"{h}mlp.down_proj.{part}"]
        out[t + "attn.proj.weight"] = hf[h + "self_attn.o_proj.weight"].reshape(C, H, D)[:, inv].reshape(C, H * D)
        if a.attention_bias:
            out[t + "attn.proj.bias"] = hf[h + "self_attn.o_proj.bias"]
    for part in parts:
        out["final_ln." + part] = hf["model.norm." + part]
    if not a.tied:
        out["output_layer.weight"] = hf["lm_head.weight"]
    return out


# ---------------------------------------------------------------------------

def max_rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def test_bf16_decoding():
    bits = np.array([0x3F80, 0xC020, 0x0001, 0x7F80, 0x3E80, 0x0000, 0x8000], dtype=np.uint16)
    want = np.array([1.0, -2.5, 2.0 ** -133, np.inf, 0.25, 0.0, -0.0], dtype=np.float32)
    got = ref.decode_bf16(bits)
    assert np.array_equal(got, want) and np.signbit(got[-1]), got
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    rt = ref.decode_bf16(ref.encode_bf16(x))
    assert np.all(np.abs(rt - x) <= np.abs(x) * 2.0 ** -8), "bf16 rounds to within u = 2^-8 relative"
    assert np.array_equal(ref.decode_bf16(ref.encode_bf16(rt)), rt), "bf16 values are fixed points"


def test_rope_against_loop():
    B, Hh, T, D, theta = 2, 3, 9, 8, 500.0
    x = torch.randn(B, Hh, T, D)
    cos, sin = ref.rope_cos_sin(T, D, theta)
    got = ref.apply_rope(x, cos, sin)
    want = torch.empty_like(x)
    for t in range(T):
        for i in range(D // 2):
            ang = t / theta ** (2.0 * i / D)
            want[..., t, i] = x[..., t, i] * math.cos(ang) - x[..., t, i + D // 2] * math.sin(ang)
            want[..., t, i + D // 2] = x[..., t, i + D // 2] * math.cos(ang) + x[..., t, i] * math.sin(ang)
    assert max_rel(got, want) < 1e-13, max_rel(got, want)


def test_repeat_kv_against_loop():
    B, G, T, D, R = 2, 3, 4, 5, 4
    x = torch.randn(B, G, T, D)
    got = ref.repeat_kv(x, R)
    for h in range(G * R):
        assert torch.equal(got[:, h], x[:, h // R]), h


def test_query_head_permutation():
    # HF head hf's group hf // R must be the group trident's head uses (t mod G), and it is a permutation.
    for H, G in ((4, 2), (4, 1), (4, 4), (12, 3), (8, 2)):
        order = ref.hf_query_heads(H, G)
        assert sorted(order) == list(range(H)), (H, G, order)
        assert all(order[hf] % G == hf // (H // G) for hf in range(H)), (H, G, order)


def test_model_against_naive_trident_layout():
    for name, j in CONFIGS.items():
        p = random_params(j)
        tokens, targets = random_batch(j)
        logits, _ = ref.trident_loss(p, tokens, targets, ref.Arch.from_trident(j))
        want = naive_trident_logits(p, tokens, j)
        assert max_rel(logits, want) < 1e-12, (name, max_rel(logits, want))


def test_renaming_round_trip():
    for name, j in CONFIGS.items():
        p = random_params(j)
        back = hf_to_trident(ref.trident_to_hf(p, ref.Arch.from_trident(j)), j)
        assert sorted(back) == sorted(p), (name, sorted(set(back) ^ set(p)))
        for n in p:
            assert torch.equal(back[n], p[n]), (name, n)


def test_stray_and_missing_tensors_are_errors():
    j = CONFIGS["llama"]
    p = random_params(j)
    tokens, targets = random_batch(j)
    arch = ref.Arch.from_trident(j)
    for broken in ({**p, "layers.0.attn.qkv.bias": torch.zeros(32)},
                   {n: t for n, t in p.items() if n != "output_layer.weight"}):
        try:
            ref.trident_loss(broken, tokens, targets, arch)
        except KeyError:
            continue
        raise AssertionError("a stray or missing tensor went unnoticed")


def test_gpt2_models_agree():
    j = CONFIGS["gpt2"]
    tokens, targets = random_batch(j)
    results = []
    for model in ("gpt_loss", "hf"):
        p = {n: t.clone().requires_grad_(True) for n, t in random_params(j).items()}
        if model == "gpt_loss":
            logits, loss = ref.gpt_loss(p, tokens, targets, j["num_layers"], j["num_attention_heads"],
                                        j["norm_epsilon"])
        else:
            logits, loss = ref.trident_loss(p, tokens, targets, ref.Arch.from_trident(j))
        loss.backward()
        results.append((logits.detach(), {n: t.grad for n, t in p.items()}))
    assert max_rel(results[0][0], results[1][0]) < 1e-13
    for n, g in results[0][1].items():
        assert max_rel(results[1][1][n], g) < 1e-12, n


def test_gradients_against_finite_differences():
    for name in ("llama", "mixed_rope_layernorm_swiglu_G1_bias_tied", "mixed_learned_rmsnorm_gelu_G2_untied"):
        j = dict(CONFIGS[name], hidden_size=8, ffn_hidden_size=6, seq_length=4, vocab_size=7, num_layers=1)
        arch = ref.Arch.from_trident(j)
        p = random_params(j)
        names = sorted(p)
        tokens, targets = random_batch(j)

        def loss(*values):
            return ref.trident_loss(dict(zip(names, values)), tokens, targets, arch)[1]

        inputs = tuple(p[n].clone().requires_grad_(True) for n in names)
        assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-8, rtol=1e-6), name


def write_hf_llama(directory, p, j, dtype):
    """An HF Llama directory of trident's tensors p, stored in `dtype`."""
    a = ref.Arch.from_trident(j)
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": a.hidden,
              "intermediate_size": a.ffn, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
              "num_key_value_heads": a.kv_heads, "rms_norm_eps": a.eps, "rope_theta": a.rope_theta,
              "vocab_size": a.vocab, "tie_word_embeddings": a.tied, "attention_bias": a.attention_bias,
              "mlp_bias": a.mlp_bias, "hidden_act": "silu", "max_position_embeddings": j["seq_length"]}
    hf = {n: t.detach().numpy().astype(np.float32) for n, t in ref.trident_to_hf(p, a).items()}
    if a.tied:  # HF ignores a stored lm_head when tied: store a wrong one to show it
        hf["lm_head.weight"] = np.zeros_like(hf["model.embed_tokens.weight"])
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    ref.write_safetensors_numpy(os.path.join(directory, "model.safetensors"), hf, {n: dtype for n in hf})


def write_hf_gpt2(directory, p, j, dtype):
    """An HF GPT-2 directory (transformer.*, Conv1D weights (in, out)) of trident's GPT-2 tensors."""
    C = j["hidden_size"]
    hf = {"transformer.wte.weight": p["embedding.word_embeddings.weight"],
          "transformer.wpe.weight": p["embedding.position_embeddings.weight"],
          "transformer.ln_f.weight": p["final_ln.weight"], "transformer.ln_f.bias": p["final_ln.bias"]}
    for i in range(j["num_layers"]):
        t, h = f"layers.{i}.", f"transformer.h.{i}."
        for ours, theirs in (("ln1", "ln_1"), ("ln2", "ln_2")):
            hf[f"{h}{theirs}.weight"], hf[f"{h}{theirs}.bias"] = p[f"{t}{ours}.weight"], p[f"{t}{ours}.bias"]
        for ours, theirs in (("attn.qkv", "attn.c_attn"), ("attn.proj", "attn.c_proj"), ("mlp.fc1", "mlp.c_fc"),
                             ("mlp.fc2", "mlp.c_proj")):
            hf[f"{h}{theirs}.weight"], hf[f"{h}{theirs}.bias"] = p[f"{t}{ours}.weight"].t(), p[f"{t}{ours}.bias"]
        hf[h + "attn.bias"] = torch.tril(torch.ones(1, 1, j["seq_length"], j["seq_length"]))  # an old mask buffer
    hf = {n: t.detach().contiguous().numpy().astype(np.float32) for n, t in hf.items()}
    config = {"model_type": "gpt2", "n_embd": C, "n_layer": j["num_layers"], "n_head": j["num_attention_heads"],
              "n_positions": j["seq_length"], "layer_norm_epsilon": j["norm_epsilon"], "vocab_size": j["vocab_size"],
              "n_inner": None, "activation_function": "gelu_new"}
    assert j["ffn_hidden_size"] == 4 * C
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    ref.write_safetensors_numpy(os.path.join(directory, "model.safetensors"), hf, {n: dtype for n in hf})


def rounded(p, dtype):
    """p's values as the stored dtype holds them."""
    if dtype == "BF16":
        return {n: torch.from_numpy(ref.decode_bf16(ref.encode_bf16(t.numpy().astype(np.float32)))).double()
                for n, t in p.items()}
    np_dtype = {"F32": np.float32, "F16": np.float16}[dtype]
    return {n: torch.from_numpy(t.numpy().astype(np_dtype).astype(np.float64)) for n, t in p.items()}


def test_hf_directories():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt_reference.py")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(n, d) for n in ("llama", "mixed_rope_layernorm_swiglu_G1_bias_tied") for d in ("F32", "BF16", "F16")]
        cases += [("gpt2", "F32"), ("gpt2", "BF16")]
        for name, dtype in cases:
            j = dict(CONFIGS[name], hidden_size=16, ffn_hidden_size=64) if name == "gpt2" else CONFIGS[name]
            if name != "gpt2" and not (j["normalization"] == "RMSNorm" and j["swiglu"] and j["position_embedding_type"] == "rope"):
                j = dict(j, normalization="RMSNorm")  # an HF Llama: RMSNorm, SwiGLU, RoPE; biases and tying as it likes
            p = random_params(j)
            tokens, targets = random_batch(j)
            d = os.path.join(tmp, f"{name}_{dtype}")
            (write_hf_gpt2 if name == "gpt2" else write_hf_llama)(d, p, j, dtype)
            pr = rounded(p, dtype)
            if name == "gpt2":
                want, _ = ref.gpt_loss(pr, tokens, targets, j["num_layers"], j["num_attention_heads"], j["norm_epsilon"])
            else:
                want, _ = ref.trident_loss(pr, tokens, targets, ref.Arch.from_trident(j))
            got = ref.hf_logits(d, tokens.int().numpy())
            assert got.dtype == torch.float64 and got.shape == want.shape, (got.dtype, got.shape)
            err = max_rel(got, want.detach())
            # the stored eps is a float32's decimal for trident's config; both sides read the same
            assert err < 1e-12, (name, dtype, err)
        # The command line, on the last directory.
        tok, out = os.path.join(tmp, "tokens.safetensors"), os.path.join(tmp, "logits.safetensors")
        ref.write_safetensors_numpy(tok, {"tokens": tokens.int().numpy()})
        subprocess.run([sys.executable, script, "hf-logits", d, tok, out], check=True)
        logits = ref.read_safetensors_numpy(out)["logits"]
        assert logits.dtype == np.float32 and logits.shape == (tokens.numel(), j["vocab_size"]), logits.shape
        assert np.abs(logits - got.reshape(-1, j["vocab_size"]).numpy()).max() <= 1e-6 * np.abs(logits).max()


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    for name, fn in tests:
        fn()
        print(f"ok  {name}")
    print(f"{len(tests)} checks of the oracle passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
