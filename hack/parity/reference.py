#!/usr/bin/python3
"""Independent PyTorch reference for the LLaDA and Dream forward passes and samplers.

What this is
    A from-scratch reimplementation, written only from the written specification
    (docs: /work/shared/reference/dllm-cache-spec.md §3 LLaDA and §4 Dream) and the
    Hugging Face checkpoint format, of
      * the LLaDA forward pass (OLMo tensor names, MHA, RoPE, RMSNorm, SwiGLU, untied head),
      * the Dream forward pass (Qwen2 tensor names, GQA, QKV bias, RoPE, logit shift),
      * LLaDA's reference ``generate()`` (ML-GSAI/LLaDA generate.py) at temperature 0,
        cfg_scale 0, remasking "low_confidence",
      * Dream's ``diffusion_generate`` / ``_sample`` at temperature 0, alg_temp 0, top_p/top_k
        None, for alg in {maskgit_plus, topk_margin, entropy},
      * dLLM-Cache (spec §1, §4 "dLLM-Cache on Dream", §8) on both models, with those samplers
        (--cache; see "dLLM-Cache" below).
    It shares no code with the Go runtime (runtime/model); the Go forward passes and samplers
    are tested against the fixtures it writes (runtime/parity/testdata/*.json).

Numerics
    Weights are read from the safetensors files by hand (no safetensors/transformers package)
    and converted BF16 -> float32 exactly (bits << 16). Everything is computed in float32:
    RMSNorm (x * rsqrt(mean(x^2) + eps), then * weight), RoPE (rotate-half, cos/sin of
    cat(freqs, freqs) in float32, positions 0..L-1), attention (bidirectional, no mask,
    scale 1/sqrt(Dh), softmax in float32; GQA query head h reads kv head h // (H/KV)).
    Sampler probabilities (LLaDA confidence p[x0], Dream softmax/confidences) are float32 too,
    the activation dtype, as the reference code does after 2025-06. Dream's timesteps are
    torch.linspace(1, eps, steps+1) in float32 and the transfer count
    n = int(num_masked * (1 - s/t)) is computed with float32 tensors, exactly as torch does.

    Every generation is also re-run in float64 (same BF16 weights) and must make the same
    decisions, and each kept generation has a minimum decision margin far above float32 noise
    (see below), so rounding differences between two correct float32 implementations cannot
    flip a decision.

Decision margin ("min_margin" in the fixture)
    Every decision of a generation is checked; for the whole generation we keep
      (a) argmax gap: for every transferred position, top-1 minus top-2 logit;
      (b) selection margin: when a step selects some candidates and leaves others, for every pair
          (a selected, b left out): (conf_a - conf_b) / (|d conf_a / d logits_a|_1 +
          |d conf_b / d logits_b|_1), the gradient taken in float64 autograd. This is, to first
          order, the smallest L-infinity change of the logits that could swap a and b, so it is in
          logit units like (a), whatever the confidence (probability, p1 - p2, sum p*log p);
      (c) relative confidence gap: (conf_a - conf_b) / max(|conf_a|, |conf_b|), which guards
          against rounding of the confidence itself (the entropy sum of 320 float32 terms).
    min_margin = min((a) / 2, (b)): the smallest L-infinity logit error that could flip any
    decision (an argmax flips once both logits move by half the gap). A generation is kept only
    when min_margin >= --min-margin (default 2e-5, about 100x the float32-vs-float64 logit
    difference of these models, ~2e-7) and (c) >= --min-rel-gap (default 64 float32 ulps,
    3.8e-6), when the argmax never is the mask token itself (that would leave the position
    masked: a corner the fixtures avoid on purpose) and when the float64 run makes the same
    decisions. Prompts are searched deterministically (numpy RandomState seeded from the family
    and case index; lengths 5-10, ids < 280) until one passes.

    Why not a 1e-4 gap in probability units: with init std 0.02 the test models are nearly
    context-free; the probabilities are ~1/320 and the confidences of the masked positions differ
    by 1e-7..1e-5, so no prompt reaches it (at d_model 64 the best over many prompts is ~1e-7,
    at d_model 512 ~2e-5). Measured in logit units the same decisions are ~100x above float32
    noise, which is what the check is for.

Dream transfer schedule
    n = int(num_masked * (1 - s/t)) with float32 tensors and t, s from torch.linspace(1, eps,
    steps+1) (float32). For eps = 1e-3, every max_new_tokens <= 128 and steps <= max_new_tokens
    the counts are the same whether linspace and the product are float32 (torch's kernel or a
    plain formula) or float64, so an implementation does not have to reproduce torch's
    linspace bit for bit; the script asserts this for each fixture case.

What it writes
    One JSON file per checkpoint (schema: the fixture dict built at the end of main()): the checkpoint identity (family,
    testmodel flags, sha256 of model.safetensors), forward-pass fixtures (input ids, the
    residual stream after the embedding and after every block, and the final logits; Dream
    logits after the shift) and generation fixtures (prompt, settings, per-step transfer counts,
    generated ids = x[prompt_len:], min_margin). Floats are written with 9 significant digits.

dLLM-Cache (--cache; spec §1.2-1.6, §4 "dLLM-Cache on Dream", §8)
    CachedModel is the model behind dLLM-Cache for one request (batch 1), written from the
    specification only. Per layer it stores, for the prompt [0,P) and the gen [P,P+G) segments, K
    (after RoPE: the same numbers as re-applying RoPE to a pre-RoPE cache, positions being fixed),
    V, the attention output after the output projection and the FFN output (both before the
    residual add). The forward counter n starts at 1 in each generate call and is never reset at
    LLaDA block boundaries; in layer l, refresh_prompt = (n-1) % K_p == 0 or l == 0 and
    refresh_gen = (n-1) % K_r == 0 or l == 0, giving case A (both), B (gen), C (prompt) or D (none)
    of spec §1.4, the layer output being x + cat(prompt_attn, gen_attn) + cat(prompt_ffn, gen_ffn).
    V-verify (§1.5) runs in C and D when rho > 0: v_new = v_proj(norm1(x_gen)) (+ bias) for all G
    gen tokens, cosine against the stored gen V over the full KV width n_kv_heads * head_dim
    (torch cosine_similarity, eps 1e-8, in the model dtype: float32), S = the k = int(G * rho) least
    similar; the whole gen V is overwritten with v_new (also when k = 0, which does nothing else),
    q and k are recomputed for S at positions P + S, K is scattered for S, the S queries attend to
    every key, and their attention and FFN rows (FFN input x + the fresh attention rows) are
    scattered. Final logits as in the uncached path (Dream: shifted). The samplers are the
    uncached ones, unchanged; they call CachedModel.logits instead of Model.logits.

    Self-checks of the cache (every --cache run): (1) on an unchanged canvas every case must
    reproduce the uncached forward (the stored features equal fresh ones), for several (K_p, K_r,
    rho), and K_p = 1, rho = 1 (case C recomputing every gen token) must on a changing canvas
    (<= 1e-6); (2) K_p = K_r = 1, rho = 0 must equal the uncached forward at every step (<= 1e-6;
    it is bitwise here) and give the generation of the uncached fixture's case; (3) every fixture
    case is replayed through CachedModelLoop, a second implementation (numpy float64, token by
    token, organised by the token sets that are recomputed rather than by the four cases): logits
    within 1e-5 (observed ~2e-7) and identical V-verify selections.

    Acceptance of a cached case: the decision margins of the uncached fixtures (min_margin >= 2e-5,
    relative confidence gap >= 64 ulps, never the mask token), the same decisions and the same
    V-verify selections in a float64 run, the same decisions under the +-5e-6 logit perturbations,
    and min_similarity_gap >= --min-sim-gap (1e-5, ~100x the float32 rounding of a cosine): the
    smallest gap, over every V-verify selection of the run with 0 < k < G, between the k-th and the
    (k+1)-th smallest cosine (written as 0 when the run makes no selection: the rho = 0 cases).
    Each case must also discriminate: its generated ids hold at least two distinct tokens and
    differ from the uncached generation of the same prompt and settings (not the K_p = K_r = 1
    case, which must equal it) and, for every Dream V-verify case and the LLaDA all-cases run,
    from the same schedule with rho = 0 (why not the other LLaDA V-verify cases: see
    LLADA_CACHE_CASES).

    Why the V-verify cases decode at least k tokens per step: in these tiny models a gen token
    whose own layer input did not change since the previous forward has a cosine of 1 - O(1e-6)
    (only attention to the changed tokens moves it), so such tokens are separated by a few float32
    ulps and their order is rounding noise (measured gaps 0..1e-6 with 16 steps of one token). A
    token decoded since the previous forward has a cosine far from 1 (gaps ~0.2-0.4). A selection is
    therefore reproducible only when the previous step decoded at least k tokens: LLaDA gen 16 with
    4 steps for rho 0.25 (3 steps: 6/5/5 decoded, 4 chosen) and 2 steps for rho 0.5; Dream
    max_new_tokens 17 (counts [4, 4, 4, 5] with 4 steps, [8, 9] with 2; with 16 the first step
    decodes int(16 * 0.24975) = 3 < 4) and 16 with 3 steps ([5, 5, 6]). The rho = 0 cases (no
    V-verify) keep 16 one-token steps.

    The cache fixture (schema: build_cache_fixture) holds the same checkpoint object and, per
    case, prompt, settings (the uncached keys plus prompt_interval, response_interval,
    transfer_ratio), a "cases" note (the layer case of every forward), transfer counts, generated
    ids, min_margin, min_similarity_gap and, for one case per family, step_logits: the final logits
    of forwards 1 (A), 2 (D), 3 (C) and 4 (B) of a K_p = 2, K_r = 3 run (with K_p = 4, K_r = 2 case C
    never occurs, since (n-1) % 4 == 0 implies (n-1) % 2 == 0).

Self-checks (run on every invocation, fail loudly)
    * RoPE rotate-half against an explicit complex-number rotation of (x[i], x[i+Dh/2]) pairs;
    * attention (vectorised, GQA by repeat) against an explicit per-head, per-query loop in
      float64;
    * the float32 forward against a float64 forward (bounded difference);
    * every kept generation is rerun in float64 and twice with the float32 logits perturbed by
      uniform noise of +-5e-6 (25x the float32 noise); all runs must give the same tokens and
      transfer counts;
    * the safetensors reader: offsets contiguous, sizes consistent, every expected tensor present
      and no unexpected tensor left over.

Regenerate the fixtures
    From the repository root:  hack/parity/regen.sh
    which runs (with DIR a temporary directory):
      LLADA="--seed 1 --layers 3 --d-model 64 --heads 4 --kv-heads 4 --mlp 128 --vocab 320"
      DREAM="--seed 2 --layers 3 --d-model 64 --heads 4 --kv-heads 2 --mlp 128 --vocab 320"
      go run ./cmd/dllm-runtime testmodel --family llada --out DIR/llada $LLADA
      go run ./cmd/dllm-runtime testmodel --family dream --out DIR/dream $DREAM
      /usr/bin/python3 hack/parity/reference.py --checkpoint DIR/llada --family llada $LLADA \\
          --out runtime/parity/testdata/llada.json
      /usr/bin/python3 hack/parity/reference.py --checkpoint DIR/dream --family dream $DREAM \\
          --out runtime/parity/testdata/dream.json
      and the same two runs with --cache --uncached-fixture runtime/parity/testdata/FAMILY.json
          --out runtime/parity/testdata/FAMILY-cache.json for the dLLM-Cache fixtures.
    (--kv-heads 2 is Dream's default, so the checkpoint equals the one without the flag.)
    The output is deterministic: a rerun writes byte-identical fixtures. Run time ~30 s
    (+ ~1 min for the two cache fixtures, mostly the seeded prompt search).
    The size flags passed to reference.py (--seed --d-model --layers --heads --kv-heads --mlp
    --vocab) are only recorded in the fixture (so the Go test can regenerate the identical
    checkpoint); they are checked against config.json. Requires Debian's python3-torch (1.13)
    and python3-numpy.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch

MIN_MARGIN_DEFAULT = 2e-5       # logit units, see "Decision margin"
MIN_REL_GAP_DEFAULT = 64 * 2.0 ** -24  # 64 float32 ulps of the confidence
PROMPT_ID_LIMIT = 280  # prompt ids are drawn from [0, 280): ordinary tokens, below every special token

# ----------------------------------------------------------------------------------------------
# Safetensors reading
# ----------------------------------------------------------------------------------------------

_DTYPES = {
    # name: (bytes per element, numpy dtype of the raw bits)
    "BF16": (2, np.uint16),
    "F16": (2, np.float16),
    "F32": (4, np.float32),
}


def _read_safetensors_file(path):
    """Returns {name: float32 numpy array} for one safetensors file (BF16/F16 widened exactly)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors header")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if 8 + hlen > len(blob):
        raise ValueError(f"{path}: header length {hlen} exceeds the file")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    out = {}
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        if dtype not in _DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dtype}")
        size, npdt = _DTYPES[dtype]
        shape = [int(d) for d in info["shape"]]
        begin, end = (int(v) for v in info["data_offsets"])
        n = int(np.prod(shape)) if shape else 1
        if end - begin != n * size or end > len(data) or begin < 0:
            raise ValueError(f"{path}: tensor {name}: offsets {begin}..{end} do not fit shape {shape} {dtype}")
        raw = np.frombuffer(data[begin:end], dtype=npdt).copy()
        if dtype == "BF16":
            arr = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = raw.astype(np.float32)
        out[name] = arr.reshape(shape)
        spans.append((begin, end))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError(f"{path}: tensor data not contiguous at offset {b} (expected {pos})")
        pos = e
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing bytes after the tensor data")
    return out


def load_checkpoint(ckpt):
    """Returns (config dict, {name: torch.float32 tensor}) for a checkpoint directory."""
    with open(os.path.join(ckpt, "config.json")) as f:
        config = json.load(f)
    single = os.path.join(ckpt, "model.safetensors")
    index = os.path.join(ckpt, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(single):
        files = [single]
    elif os.path.exists(index):
        with open(index) as f:
            files = sorted({os.path.join(ckpt, v) for v in json.load(f)["weight_map"].values()})
    else:
        raise FileNotFoundError(f"{ckpt}: neither model.safetensors nor model.safetensors.index.json")
    for p in files:
        for k, v in _read_safetensors_file(p).items():
            if k in tensors:
                raise ValueError(f"tensor {k} appears twice")
            tensors[k] = torch.from_numpy(v)
    return config, tensors


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------


class Weights:
    """Takes tensors by name and fails loudly on a missing tensor, a wrong shape, or leftovers."""

    def __init__(self, tensors, dtype):
        self.t = tensors
        self.used = set()
        self.dtype = dtype

    def get(self, name, shape):
        if name not in self.t:
            raise KeyError(f"checkpoint is missing tensor {name!r}")
        w = self.t[name]
        if list(w.shape) != list(shape):
            raise ValueError(f"tensor {name}: shape {list(w.shape)}, want {list(shape)}")
        self.used.add(name)
        return w.to(self.dtype)

    def check_all_used(self):
        left = sorted(set(self.t) - self.used)
        if left:
            raise ValueError(f"checkpoint has unexpected tensors: {left}")


def rms_norm(x, w, eps):
    # HF/LLaDA: normalise in float32, cast back to the activation dtype, then multiply by w.
    xf = x.to(torch.float32) if x.dtype != torch.float64 else x
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return y.to(x.dtype) * w


def rope_tables(L, head_dim, theta, dtype):
    """cos, sin of shape [L, Dh]: rotate-half tables, inv_freq = 1/theta^(arange(0,Dh,2)/Dh)."""
    if dtype == torch.float64:
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        pos = torch.arange(L, dtype=torch.float64)
    else:
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        pos = torch.arange(L, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)  # [L, Dh/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [L, Dh]
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    # x: [heads, L, Dh]; cos/sin: [L, Dh]
    return x * cos + rotate_half(x) * sin


def attention(q, k, v):
    """q: [H, L, Dh], k/v: [KV, L, Dh]. Bidirectional, no mask; GQA by repeating kv heads."""
    H, KV, Dh = q.shape[0], k.shape[0], q.shape[-1]
    rep = H // KV
    k = k.repeat_interleave(rep, dim=0)  # head h -> kv head h // rep
    v = v.repeat_interleave(rep, dim=0)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(Dh))
    probs = torch.softmax(scores, dim=-1)
    return torch.matmul(probs, v)  # [H, L, Dh]


class Model:
    """LLaDA or Dream, batch 1, float32 (or float64 for the cross-check)."""

    def __init__(self, family, config, tensors, dtype=torch.float32):
        self.family = family
        self.dtype = dtype
        c = config
        if family == "llada":
            self.D = int(c["d_model"])
            self.n_layers = int(c["n_layers"])
            self.H = int(c["n_heads"])
            self.KV = int(c.get("n_kv_heads") or c["n_heads"])
            self.I = int(c["mlp_hidden_size"])
            self.V = int(c.get("embedding_size") or c["vocab_size"])
            for key, want in (("weight_tying", False), ("include_bias", False), ("include_qkv_bias", False),
                              ("attention_layer_norm", False), ("input_emb_norm", False),
                              ("scale_logits", False), ("rope", True), ("block_type", "llama"),
                              ("activation_type", "silu"), ("layer_norm_type", "rms")):
                if key in c and c[key] != want:
                    raise ValueError(f"config {key}={c[key]!r}: this reference implements only {want!r}")
        elif family == "dream":
            self.D = int(c["hidden_size"])
            self.n_layers = int(c["num_hidden_layers"])
            self.H = int(c["num_attention_heads"])
            self.KV = int(c.get("num_key_value_heads") or c["num_attention_heads"])
            self.I = int(c["intermediate_size"])
            self.V = int(c["vocab_size"])
            if c.get("tie_word_embeddings"):
                raise ValueError("tie_word_embeddings true: this reference implements only an untied lm_head")
            if c.get("rope_scaling"):
                raise ValueError("rope_scaling: this reference implements only unscaled RoPE")
        else:
            raise ValueError(f"unknown family {family!r}")
        self.Dh = self.D // self.H
        if self.Dh * self.H != self.D or self.H % self.KV != 0 or self.Dh % 2:
            raise ValueError("inconsistent head sizes")
        self.theta = float(c["rope_theta"])
        self.eps = float(c["rms_norm_eps"])
        self.mask_id = int(c["mask_token_id"])
        D, I, V, KVD = self.D, self.I, self.V, self.KV * self.Dh
        W = Weights(tensors, dtype)
        self.layers = []
        if family == "llada":
            p = "model.transformer."
            self.emb = W.get(p + "wte.weight", [V, D])
            self.norm_f = W.get(p + "ln_f.weight", [D])
            self.head = W.get(p + "ff_out.weight", [V, D])
            for i in range(self.n_layers):
                b = f"{p}blocks.{i}."
                self.layers.append(dict(
                    attn_norm=W.get(b + "attn_norm.weight", [D]),
                    q=W.get(b + "q_proj.weight", [D, D]), qb=None,
                    k=W.get(b + "k_proj.weight", [KVD, D]), kb=None,
                    v=W.get(b + "v_proj.weight", [KVD, D]), vb=None,
                    o=W.get(b + "attn_out.weight", [D, D]),
                    mlp_norm=W.get(b + "ff_norm.weight", [D]),
                    gate=W.get(b + "ff_proj.weight", [I, D]),
                    up=W.get(b + "up_proj.weight", [I, D]),
                    down=W.get(b + "ff_out.weight", [D, I]),
                ))
        else:
            self.emb = W.get("model.embed_tokens.weight", [V, D])
            self.norm_f = W.get("model.norm.weight", [D])
            self.head = W.get("lm_head.weight", [V, D])
            for i in range(self.n_layers):
                b = f"model.layers.{i}."
                self.layers.append(dict(
                    attn_norm=W.get(b + "input_layernorm.weight", [D]),
                    q=W.get(b + "self_attn.q_proj.weight", [D, D]), qb=W.get(b + "self_attn.q_proj.bias", [D]),
                    k=W.get(b + "self_attn.k_proj.weight", [KVD, D]), kb=W.get(b + "self_attn.k_proj.bias", [KVD]),
                    v=W.get(b + "self_attn.v_proj.weight", [KVD, D]), vb=W.get(b + "self_attn.v_proj.bias", [KVD]),
                    o=W.get(b + "self_attn.o_proj.weight", [D, D]),
                    mlp_norm=W.get(b + "post_attention_layernorm.weight", [D]),
                    gate=W.get(b + "mlp.gate_proj.weight", [I, D]),
                    up=W.get(b + "mlp.up_proj.weight", [I, D]),
                    down=W.get(b + "mlp.down_proj.weight", [D, I]),
                ))
        W.check_all_used()

    @staticmethod
    def _linear(x, w, b=None):
        y = torch.matmul(x, w.t())
        return y + b if b is not None else y

    def forward(self, ids, attn_fn=attention):
        """ids: list/1-D LongTensor of length L. Returns (hidden_states list [n_layers+1] of [L, D],
        logits [L, V]); Dream logits are shifted right by one."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        L = ids.shape[0]
        H, KV, Dh = self.H, self.KV, self.Dh
        cos, sin = rope_tables(L, Dh, self.theta, self.dtype)
        x = self.emb[ids]  # no embedding scaling
        hidden = [x]
        for ly in self.layers:
            n1 = rms_norm(x, ly["attn_norm"], self.eps)
            q = self._linear(n1, ly["q"], ly["qb"]).view(L, H, Dh).transpose(0, 1)
            k = self._linear(n1, ly["k"], ly["kb"]).view(L, KV, Dh).transpose(0, 1)
            v = self._linear(n1, ly["v"], ly["vb"]).view(L, KV, Dh).transpose(0, 1)
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
            a = attn_fn(q, k, v).transpose(0, 1).reshape(L, H * Dh)
            h = x + self._linear(a, ly["o"])
            n2 = rms_norm(h, ly["mlp_norm"], self.eps)
            m = torch.nn.functional.silu(self._linear(n2, ly["gate"])) * self._linear(n2, ly["up"])
            x = h + self._linear(m, ly["down"])
            hidden.append(x)
        logits = self._linear(rms_norm(x, self.norm_f, self.eps), self.head)
        if self.family == "dream":
            logits = torch.cat((logits[:1], logits[:-1]), dim=0)
        return hidden, logits

    def logits(self, ids):
        return self.forward(ids)[1]


# ----------------------------------------------------------------------------------------------
# Samplers (temperature 0)
# ----------------------------------------------------------------------------------------------


class Reject(Exception):
    """The prompt leads to a decision the fixtures avoid (committing the mask token)."""


def _logit_gap(logits_row):
    top = torch.topk(logits_row.to(torch.float64), 2).values
    return float(top[0] - top[1])


def confidence_of(logits, alg):
    """Confidence per row of logits [N, V] for alg in {maskgit_plus, topk_margin, entropy}
    (LLaDA's low_confidence p[argmax] is maskgit_plus at temperature 0)."""
    probs = torch.softmax(logits, dim=-1)
    if alg == "maskgit_plus":
        return probs.max(dim=-1).values
    if alg == "topk_margin":
        sp = torch.sort(probs, dim=-1, descending=True).values
        return sp[:, 0] - sp[:, 1]
    if alg == "entropy":
        return torch.sum(probs * torch.log(probs + 1e-10), dim=-1)
    raise ValueError(f"unsupported alg {alg!r}")


def _selection_margin(logits, cand, selected, alg):
    """Margin (b) of one step, in logit units: the smallest L-infinity perturbation of the logits
    that could (to first order) swap a selected and a non-selected candidate,
        min over a in selected, b in rest of (conf_a - conf_b) / (|grad conf_a|_1 + |grad conf_b|_1),
    where grad conf is the gradient of the confidence with respect to its own logit row (float64
    autograd). Also returns the raw confidence gap and the raw gap relative to the larger
    |confidence| of the pair. None when there is no such pair."""
    cand = [int(v) for v in cand]
    sel = set(int(v) for v in selected)
    rest = [p for p in cand if p not in sel]
    if not sel or not rest:
        return None
    rows = logits[cand].detach().to(torch.float64).clone().requires_grad_(True)
    conf = confidence_of(rows, alg)
    conf.sum().backward()
    sens = rows.grad.abs().sum(dim=-1)
    idx = {p: i for i, p in enumerate(cand)}
    best, raw, rel = math.inf, math.inf, math.inf
    for a in sel:
        for b in rest:
            ia, ib = idx[a], idx[b]
            gap = float(conf[ia] - conf[ib])
            raw = min(raw, gap)
            rel = min(rel, gap / max(abs(float(conf[ia])), abs(float(conf[ib]))))
            best = min(best, gap / float(sens[ia] + sens[ib]))
    return best, raw, rel


class Margins:
    """Running minimum of the decision margins of one generation (see the module docstring).
    With limits (min_margin, min_rel_gap) it raises Reject as soon as a decision falls below
    them, which keeps the prompt search fast."""

    def __init__(self, mask_id, limits=None):
        self.mask_id = mask_id
        self.limits = limits
        self.argmax_gap = math.inf  # (a) min top-1 minus top-2 logit of a transferred position
        self.select = math.inf      # (b) min selection margin, logit units
        self.select_raw = math.inf  # (b) min raw confidence gap, confidence units
        self.select_rel = math.inf  # (b) min raw confidence gap / |confidence|

    def step(self, logits, tokens, cand, selected, alg):
        """logits [L, V] of the step; tokens [L] the x0 the step would write; cand the candidate
        positions (finite confidence); selected the positions chosen."""
        for pos in selected:
            self.argmax_gap = min(self.argmax_gap, _logit_gap(logits[pos]))
            if int(tokens[pos]) == self.mask_id:
                raise Reject("argmax is the mask token")
        m = _selection_margin(logits, cand, selected, alg)
        if m is not None:
            self.select = min(self.select, m[0])
            self.select_raw = min(self.select_raw, m[1])
            self.select_rel = min(self.select_rel, m[2])
        if self.limits is not None and not self.ok(*self.limits):
            raise Reject("margin below the limit")

    def min_margin(self):
        """The smallest L-infinity logit perturbation that could flip any decision: half the
        argmax gap (both logits move), or the selection margin."""
        return min(self.argmax_gap / 2, self.select)

    def ok(self, min_margin, min_rel_gap):
        return self.min_margin() >= min_margin and self.select_rel >= min_rel_gap


def llada_generate(model, prompt, gen_length, block_length, steps, limits=None):
    """ML-GSAI/LLaDA generate() at temperature 0, cfg 0, low_confidence remasking.
    Returns (x, transfer_counts, Margins)."""
    mask_id = model.mask_id
    P = len(prompt)
    x = torch.full((P + gen_length,), mask_id, dtype=torch.long)
    x[:P] = torch.as_tensor(prompt, dtype=torch.long)
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    assert steps % num_blocks == 0
    spb = steps // num_blocks
    counts, mg = [], Margins(mask_id, limits)
    for b in range(num_blocks):
        lo, hi = P + b * block_length, P + (b + 1) * block_length
        m = int((x[lo:hi] == mask_id).sum())
        num_transfer = [m // spb + (1 if j < m % spb else 0) for j in range(spb)]
        for i in range(spb):
            mask_index = x == mask_id
            logits = model.logits(x)
            x0 = torch.argmax(logits, dim=-1)
            p = torch.softmax(logits, dim=-1)
            x0_p = torch.gather(p, -1, x0.unsqueeze(-1)).squeeze(-1)
            x0_p[hi:] = -math.inf
            x0 = torch.where(mask_index, x0, x)
            conf = torch.where(mask_index, x0_p, torch.full_like(x0_p, -math.inf))
            k = num_transfer[i]
            sel = torch.topk(conf, k).indices
            if k > 0 and not torch.isfinite(conf[sel]).all():
                raise AssertionError("selected a non-candidate position")
            cand = torch.nonzero(torch.isfinite(conf)).flatten().tolist()
            mg.step(logits, x0, cand, sel.tolist(), "maskgit_plus")
            x[sel] = x0[sel]
            counts.append(k)
    return x, counts, mg


def dream_generate(model, prompt, max_new_tokens, steps, alg, eps=1e-3, limits=None):
    """Dream diffusion_generate/_sample at temperature 0, alg_temp 0, no top_p/top_k, batch 1."""
    mask_id = model.mask_id
    P = len(prompt)
    x = torch.full((P + max_new_tokens,), mask_id, dtype=torch.long)
    x[:P] = torch.as_tensor(prompt, dtype=torch.long)
    timesteps = torch.linspace(1, eps, steps + 1, dtype=torch.float32)
    counts, mg = [], Margins(mask_id, limits)
    for i in range(steps):
        mask_index = x == mask_id
        logits = model.logits(x)
        mask_logits = logits[mask_index]
        t, s = timesteps[i], timesteps[i + 1]
        probs = torch.softmax(mask_logits, dim=-1)
        _, x0 = probs.max(dim=-1)  # temperature 0: x0 = argmax p
        confidence = confidence_of(mask_logits, alg)
        # Batch of one: the batch-mean masked count is a float32 tensor (torch true division).
        num_mask_token = mask_index.sum() / 1
        assert num_mask_token.dtype == torch.float32
        if i < steps - 1:
            n = int(num_mask_token * (1 - s / t))
        else:
            n = int(num_mask_token)
        full_conf = torch.full((x.shape[0],), -math.inf, dtype=logits.dtype)
        full_conf[mask_index] = confidence.to(logits.dtype)
        if n > 0:
            sel = torch.topk(full_conf, n).indices
            x_ = torch.full_like(x, mask_id)
            x_[mask_index] = x0
            cand = torch.nonzero(mask_index).flatten().tolist()
            mg.step(logits, x_, cand, sel.tolist(), alg)
            x[sel] = x_[sel]
        counts.append(n)
    return x, counts, mg


def dream_counts(max_new_tokens, steps, eps=1e-3, exact=False):
    """The Dream transfer counts when every step transfers n tokens (it always does). exact:
    float64 linspace and arithmetic instead of torch's float32."""
    m, out = max_new_tokens, []
    if exact:
        ts = np.linspace(1.0, eps, steps + 1)
    else:
        ts = torch.linspace(1, eps, steps + 1, dtype=torch.float32)
    for i in range(steps):
        if i == steps - 1:
            n = m
        elif exact:
            n = int(m * (1 - ts[i + 1] / ts[i]))
        else:
            n = int((torch.tensor(m) / 1) * (1 - ts[i + 1] / ts[i]))
        out.append(n)
        m -= n
    return out


# ----------------------------------------------------------------------------------------------
# dLLM-Cache (spec §1.2-1.6, §4 "dLLM-Cache on Dream")
# ----------------------------------------------------------------------------------------------


class CachedModel:
    """The model behind dLLM-Cache, for one generate call (batch 1): a fresh object is the
    per-request reset_cache(P). logits(ids) is one forward pass on the full canvas; the
    samplers call it exactly as they call Model.logits.

    State per layer l, per segment prompt [0,P) and gen [P,P+G):
      kp, kg  K after RoPE, [KV, n, Dh] (the spec caches K before RoPE and re-applies RoPE on every
              call; positions never change, so caching K after RoPE is the same numbers);
      vp, vg  V, [n, KV*Dh] (the v_proj output, bias included for Dream);
      ap, ag  attention output after the output projection, before the residual add, [n, D];
      fp, fg  FFN output (after ff_out / down_proj), before the residual add, [n, D].
    Forward counter n starts at 1 on the first call. In layer l of forward n
      refresh_prompt = (n-1) % prompt_interval == 0 or l == 0
      refresh_gen    = (n-1) % response_interval == 0 or l == 0
    and the layer runs case A (both), B (gen only), C (prompt only) or D (none) of spec §1.4, with
    V-verify (§1.5) in C and D when 0 < transfer_ratio <= 1. Everything in the model's dtype
    (float32, or float64 for the cross-check), the cosine similarity included.

    Bookkeeping for the fixtures: layer_cases[n] is the case letter of every layer in forward n;
    selections is a list of (forward, layer, sorted S); min_gap is the smallest gap, over all
    V-verify selections with 0 < k < G, between the k-th and (k+1)-th smallest cosine; with
    gap_limit set, a selection whose gap is below it raises Reject at once. capture: forward
    numbers whose final logits are kept in captured. check_uncached: compare every forward with
    Model.forward (for the K_p = K_r = 1, rho = 0 and the rho = 1 self-checks)."""

    def __init__(self, model, prompt_len, prompt_interval, response_interval, transfer_ratio,
                 gap_limit=None, capture=(), check_uncached=None):
        if not (0.0 <= transfer_ratio <= 1.0):
            raise ValueError(f"transfer_ratio {transfer_ratio} outside [0, 1]")
        self.m = model
        self.family = model.family
        self.mask_id = model.mask_id
        self.V = model.V
        self.P = prompt_len
        self.Kp = prompt_interval
        self.Kr = response_interval
        self.rho = transfer_ratio
        self.transfer = transfer_ratio > 0
        self.gap_limit = gap_limit
        self.capture = set(capture)
        self.check_uncached = check_uncached  # None or the tolerance
        self.n = 0
        self.L = None
        self.cache = [dict() for _ in model.layers]
        self.layer_cases = {}
        self.selections = []
        self.min_gap = math.inf
        self.captured = {}
        self.uncached_diff = 0.0
        self.uncached_bitwise = True

    # -- helpers ------------------------------------------------------------------------------

    def _proj(self, ly, xn, pos, which):
        """q (which 'q') or k ('k') of normalised rows xn [m, D] at absolute positions pos,
        RoPE applied: [heads, m, Dh]."""
        m = self.m
        heads = m.H if which == "q" else m.KV
        y = m._linear(xn, ly[which], ly[which + "b"]).view(xn.shape[0], heads, m.Dh).transpose(0, 1)
        return apply_rope(y, self.cos[pos], self.sin[pos])

    def _v(self, ly, xn):
        return self.m._linear(xn, ly["v"], ly["vb"])  # [m, KV*Dh]

    def _heads(self, v):
        return v.view(v.shape[0], self.m.KV, self.m.Dh).transpose(0, 1)  # [KV, m, Dh]

    def _attn_out(self, ly, q, k, v):
        """Queries q [H, m, Dh] over keys k [KV, L, Dh] and values v [L, KV*Dh] (no mask), then the
        output projection: [m, D]."""
        m = self.m
        a = attention(q, k, self._heads(v)).transpose(0, 1).reshape(q.shape[1], m.H * m.Dh)
        return m._linear(a, ly["o"])

    def _ffn(self, ly, h):
        m = self.m
        n2 = rms_norm(h, ly["mlp_norm"], m.eps)
        return m._linear(torch.nn.functional.silu(m._linear(n2, ly["gate"])) * m._linear(n2, ly["up"]), ly["down"])

    def _v_verify(self, ly, c, xg, layer):
        """Spec §1.5 on the gen rows xg [G, D] of the layer input. Overwrites the whole gen V cache
        with v_new, and returns (S, xhat_S, positions of S) with S the k = int(G*rho) least
        similar gen indices (sorted), or None when k == 0."""
        P, G = self.P, xg.shape[0]
        xhat = rms_norm(xg, ly["attn_norm"], self.m.eps)
        v_new = self._v(ly, xhat)
        sim = torch.nn.functional.cosine_similarity(v_new, c["vg"], dim=-1, eps=1e-8)
        assert sim.dtype == self.m.dtype
        k = int(G * self.rho)
        c["vg"] = v_new
        if k == 0:
            return None
        S = torch.topk(sim, k, largest=False).indices
        S = torch.sort(S).values
        if k < G:
            srt = torch.sort(sim).values.to(torch.float64)
            gap = float(srt[k] - srt[k - 1])
            self.min_gap = min(self.min_gap, gap)
            if self.gap_limit is not None and gap < self.gap_limit:
                raise Reject(f"V-verify similarity gap {gap:.3g} below {self.gap_limit}")
        self.selections.append((self.n, layer, tuple(S.tolist())))
        return S, xhat[S], S + P

    # -- the forward --------------------------------------------------------------------------

    def logits(self, ids):
        m = self.m
        ids = torch.as_tensor(ids, dtype=torch.long)
        L, P = ids.shape[0], self.P
        if self.L is None:
            if not 0 < P < L:
                raise ValueError(f"prompt length {P} and canvas length {L}")
            self.L = L
            self.cos, self.sin = rope_tables(L, m.Dh, m.theta, m.dtype)
        elif L != self.L:
            raise ValueError("the canvas length changed within one request")
        self.n += 1
        n = self.n
        pos_p = torch.arange(0, P)
        pos_g = torch.arange(P, L)
        pos_all = torch.arange(0, L)
        x = m.emb[ids]
        cases = []
        for li, ly in enumerate(m.layers):
            c = self.cache[li]
            rp = (n - 1) % self.Kp == 0 or li == 0
            rg = (n - 1) % self.Kr == 0 or li == 0
            if rp and rg:
                # Case A: the uncached layer, storing everything.
                cases.append("A")
                n1 = rms_norm(x, ly["attn_norm"], m.eps)
                q = self._proj(ly, n1, pos_all, "q")
                k = self._proj(ly, n1, pos_all, "k")
                v = self._v(ly, n1)
                att = self._attn_out(ly, q, k, v)
                h = x + att
                f = self._ffn(ly, h)
                c.update(kp=k[:, :P].clone(), kg=k[:, P:].clone(), vp=v[:P].clone(), vg=v[P:].clone(),
                         ap=att[:P].clone(), ag=att[P:].clone(), fp=f[:P].clone(), fg=f[P:].clone())
                x = h + f
                continue
            if rg:
                # Case B: gen rows recomputed against cached prompt K, V; prompt attn/FFN reused.
                cases.append("B")
                n1g = rms_norm(x[P:], ly["attn_norm"], m.eps)
                qg = self._proj(ly, n1g, pos_g, "q")
                c["kg"] = self._proj(ly, n1g, pos_g, "k")
                c["vg"] = self._v(ly, n1g)
                K = torch.cat((c["kp"], c["kg"]), dim=1)
                Vv = torch.cat((c["vp"], c["vg"]), dim=0)
                c["ag"] = self._attn_out(ly, qg, K, Vv)
                h = x + torch.cat((c["ap"], c["ag"]), dim=0)
                c["fg"] = self._ffn(ly, h[P:])
                x = h + torch.cat((c["fp"], c["fg"]), dim=0)
                continue
            sel = None
            if rp:
                # Case C: prompt rows recomputed; gen rows only through V-verify.
                cases.append("C")
                n1p = rms_norm(x[:P], ly["attn_norm"], m.eps)
                qp = self._proj(ly, n1p, pos_p, "q")
                c["kp"] = self._proj(ly, n1p, pos_p, "k")
                c["vp"] = self._v(ly, n1p)
                q = qp
                if self.transfer:
                    sel = self._v_verify(ly, c, x[P:], li)
                    if sel is not None:
                        S, xs, ps = sel
                        c["kg"][:, S] = self._proj(ly, xs, ps, "k")
                        q = torch.cat((qp, self._proj(ly, xs, ps, "q")), dim=1)
                K = torch.cat((c["kp"], c["kg"]), dim=1)
                Vv = torch.cat((c["vp"], c["vg"]), dim=0)
                out = self._attn_out(ly, q, K, Vv)
                c["ap"] = out[:P]
                if sel is not None:
                    c["ag"][S] = out[P:]
                h = x + torch.cat((c["ap"], c["ag"]), dim=0)
                rows = torch.cat((pos_p, ps)) if sel is not None else pos_p
                f = self._ffn(ly, h[rows])
                c["fp"] = f[:P]
                if sel is not None:
                    c["fg"][S] = f[P:]
            else:
                # Case D: reuse; the V-verify rows are recomputed.
                cases.append("D")
                if self.transfer:
                    sel = self._v_verify(ly, c, x[P:], li)
                    if sel is not None:
                        S, xs, ps = sel
                        c["kg"][:, S] = self._proj(ly, xs, ps, "k")
                        qs = self._proj(ly, xs, ps, "q")
                        K = torch.cat((c["kp"], c["kg"]), dim=1)
                        Vv = torch.cat((c["vp"], c["vg"]), dim=0)
                        c["ag"][S] = self._attn_out(ly, qs, K, Vv)
                h = x + torch.cat((c["ap"], c["ag"]), dim=0)
                if sel is not None:
                    c["fg"][S] = self._ffn(ly, h[ps])
            x = h + torch.cat((c["fp"], c["fg"]), dim=0)
        self.layer_cases[n] = "".join(cases)
        logits = m._linear(rms_norm(x, m.norm_f, m.eps), m.head)
        if m.family == "dream":
            logits = torch.cat((logits[:1], logits[:-1]), dim=0)
        if self.check_uncached is not None:
            ref = m.forward(ids)[1]
            d = float((logits - ref).abs().max())
            self.uncached_diff = max(self.uncached_diff, d)
            self.uncached_bitwise = self.uncached_bitwise and torch.equal(logits, ref)
            if d > self.check_uncached:
                raise AssertionError(f"cached forward {n} ({self.layer_cases[n]}) differs from the uncached "
                                     f"forward by {d:.3g} > {self.check_uncached}")
        if n in self.capture:
            self.captured[n] = logits.clone()
        return logits


class CachedModelLoop:
    """A second, deliberately different implementation of the same dLLM-Cache semantics, used
    only as a self-check of CachedModel: numpy float64, token by token, and organised by *sets*
    instead of the four cases. In layer l of forward n it derives, from refresh_prompt /
    refresh_gen and V-verify, the token sets whose V, K, attention output and FFN output are
    recomputed, recomputes exactly those from this forward's layer input (K with RoPE at the
    token's own position, attention as an explicit per-head softmax over every key), keeps the
    stored values of every other token, and outputs x + attn + ffn per token."""

    def __init__(self, model, prompt_len, prompt_interval, response_interval, transfer_ratio):
        self.m = model
        self.P, self.Kp, self.Kr, self.rho = prompt_len, prompt_interval, response_interval, transfer_ratio
        self.n = 0
        g = lambda t: None if t is None else t.detach().to(torch.float64).numpy()
        self.w = [{k: g(v) for k, v in ly.items()} for ly in model.layers]
        self.emb, self.norm_f, self.head = g(model.emb), g(model.norm_f), g(model.head)
        self.store = [dict(k={}, v={}, a={}, f={}) for _ in model.layers]
        self.selections = []

    def _norm(self, x, w):
        return x / np.sqrt(np.mean(x * x) + self.m.eps) * w

    def _lin(self, x, w, b):
        y = w @ x
        return y if b is None else y + b

    def _rope(self, x, pos):
        # x: [heads, Dh]; rotate-half at absolute position pos, angles in float64
        Dh = x.shape[-1]
        inv = 1.0 / (self.m.theta ** (np.arange(0, Dh, 2, dtype=np.float64) / Dh))
        ang = np.concatenate([pos * inv, pos * inv])
        rot = np.concatenate([-x[:, Dh // 2:], x[:, :Dh // 2]], axis=-1)
        return x * np.cos(ang) + rot * np.sin(ang)

    def logits(self, ids):
        m = self.m
        ids = [int(v) for v in ids]
        L, P = len(ids), self.P
        G = L - P
        self.n += 1
        n = self.n
        H, KV, Dh = m.H, m.KV, m.Dh
        x = [self.emb[t].copy() for t in ids]
        prompt, gen = list(range(P)), list(range(P, L))
        for li, w in enumerate(self.w):
            st = self.store[li]
            rp = (n - 1) % self.Kp == 0 or li == 0
            rg = (n - 1) % self.Kr == 0 or li == 0
            xn = [self._norm(x[t], w["attn_norm"]) for t in range(L)]
            v_set, k_set, a_set = set(), set(), set()
            if rp:
                v_set |= set(prompt); k_set |= set(prompt); a_set |= set(prompt)
            if rg:
                v_set |= set(gen); k_set |= set(gen); a_set |= set(gen)
            elif self.rho > 0:
                # V-verify: new V of every gen token against the stored one.
                vnew = {t: self._lin(xn[t], w["v"], w["vb"]) for t in gen}
                cos = []
                for t in gen:
                    a, b = vnew[t], st["v"][t].reshape(-1)
                    cos.append((float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-8), t))
                k = int(G * self.rho)
                chosen = sorted(t for _, t in sorted(cos)[:k])
                if k:
                    self.selections.append((n, li, tuple(t - P for t in chosen)))
                v_set |= set(gen); k_set |= set(chosen); a_set |= set(chosen)
            for t in sorted(v_set):
                st["v"][t] = self._lin(xn[t], w["v"], w["vb"]).reshape(KV, Dh)
            for t in sorted(k_set):
                st["k"][t] = self._rope(self._lin(xn[t], w["k"], w["kb"]).reshape(KV, Dh), t)
            for t in sorted(a_set):
                q = self._rope(self._lin(xn[t], w["q"], w["qb"]).reshape(H, Dh), t)
                out = np.zeros((H, Dh))
                for hh in range(H):
                    kvh = hh // (H // KV)
                    s = np.array([q[hh] @ st["k"][j][kvh] for j in range(L)]) / math.sqrt(Dh)
                    e = np.exp(s - s.max())
                    out[hh] = sum((e[j] / e.sum()) * st["v"][j][kvh] for j in range(L))
                st["a"][t] = w["o"] @ out.reshape(H * Dh)
            hs = [x[t] + st["a"][t] for t in range(L)]
            for t in sorted(a_set):  # the FFN is recomputed exactly where the attention was
                n2 = self._norm(hs[t], w["mlp_norm"])
                gt = w["gate"] @ n2
                st["f"][t] = w["down"] @ (gt / (1.0 + np.exp(-gt)) * (w["up"] @ n2))
            x = [hs[t] + st["f"][t] for t in range(L)]
        out = np.stack([self.head @ self._norm(x[t], self.norm_f) for t in range(L)])
        if m.family == "dream":
            out = np.concatenate([out[:1], out[:-1]], axis=0)
        return out


def check_cache_loop(family, model, prompt, gen_case, kp, kr, rho, tol=1e-5):
    """Replays a float32 CachedModel generation through CachedModelLoop (float64): every forward's
    logits within tol and the same V-verify selections. Returns the max logit difference."""
    loop = CachedModelLoop(model, len(prompt), kp, kr, rho)
    worst = [0.0]
    r = CachedModel(model, len(prompt), kp, kr, rho)
    orig = r.logits

    def both(ids):
        lg = orig(ids)
        d = float(np.abs(lg.detach().double().numpy() - loop.logits(ids)).max())
        worst[0] = max(worst[0], d)
        if d > tol:
            raise AssertionError(f"CachedModel and CachedModelLoop differ by {d:.3g} at forward {r.n}")
        return lg

    r.logits = both
    if family == "llada":
        llada_generate(r, prompt, *gen_case)
    else:
        dream_generate(r, prompt, *gen_case)
    if r.selections != loop.selections:
        raise AssertionError(f"CachedModel and CachedModelLoop select differently: {r.selections} vs {loop.selections}")
    return worst[0]


def schedule_cases(n_layers, n_forwards, prompt_interval, response_interval):
    """{forward: case letters per layer} of the refresh schedule alone (spec §1.3)."""
    out = {}
    for n in range(1, n_forwards + 1):
        s = ""
        for li in range(n_layers):
            rp = (n - 1) % prompt_interval == 0 or li == 0
            rg = (n - 1) % response_interval == 0 or li == 0
            s += "A" if rp and rg else "B" if rg else "C" if rp else "D"
        out[n] = s
    return out


# ----------------------------------------------------------------------------------------------
# Self-checks
# ----------------------------------------------------------------------------------------------


def check_rope(head_dim, theta):
    """rotate-half RoPE == complex rotation of (x[i], x[i+Dh/2]) by angle pos*inv_freq[i]."""
    torch.manual_seed(0)
    L, Hh = 11, 3
    x = torch.randn(Hh, L, head_dim, dtype=torch.float64)
    cos, sin = rope_tables(L, head_dim, theta, torch.float64)
    got = apply_rope(x, cos, sin)
    half = head_dim // 2
    want = torch.empty_like(x)
    for pos in range(L):
        for i in range(half):
            ang = pos / (theta ** (2 * i / head_dim))
            z = complex(0, 0)
            for h in range(Hh):
                z = complex(float(x[h, pos, i]), float(x[h, pos, i + half])) * complex(math.cos(ang), math.sin(ang))
                want[h, pos, i] = z.real
                want[h, pos, i + half] = z.imag
    err = float((got - want).abs().max())
    if err > 1e-9:
        raise AssertionError(f"RoPE self-check failed: max err {err}")
    # float32 tables agree with float64 ones to float32 rounding.
    c32, s32 = rope_tables(L, head_dim, theta, torch.float32)
    e32 = max(float((c32.double() - cos).abs().max()), float((s32.double() - sin).abs().max()))
    if e32 > 1e-5:
        raise AssertionError(f"RoPE float32 table self-check failed: {e32}")


def attention_loop(q, k, v):
    """Explicit per-head, per-query attention in float64; query head h reads kv head h // (H/KV)."""
    H, L, Dh = q.shape
    KV = k.shape[0]
    out = torch.empty(H, L, Dh, dtype=torch.float64)
    for h in range(H):
        kvh = h // (H // KV)
        for i in range(L):
            s = [float(torch.dot(q[h, i].double(), k[kvh, j].double())) / math.sqrt(Dh) for j in range(L)]
            mx = max(s)
            e = [math.exp(a - mx) for a in s]
            z = sum(e)
            acc = torch.zeros(Dh, dtype=torch.float64)
            for j in range(L):
                acc += (e[j] / z) * v[kvh, j].double()
            out[h, i] = acc
    return out.to(q.dtype)


def self_check(model, model64, ids):
    check_rope(model.Dh, model.theta)
    # Attention: vectorised GQA == explicit loop (run inside the real forward, float64 weights).
    h_vec, l_vec = model64.forward(ids)
    h_loop, l_loop = model64.forward(ids, attn_fn=attention_loop)
    err = float((l_vec - l_loop).abs().max())
    if err > 1e-10:
        raise AssertionError(f"attention self-check failed: max logit err {err}")
    # float32 forward vs float64 forward.
    h32, l32 = model.forward(ids)
    errs = [float((a.double() - b).abs().max()) for a, b in zip(h32, h_vec)]
    lerr = float((l32.double() - l_vec).abs().max())
    if max(errs + [lerr]) > 1e-4:
        raise AssertionError(f"float32 vs float64 forward differ too much: hidden {errs} logits {lerr}")
    # The Dream shift: logits[0] == logits[1] (both from hidden 0).
    if model.family == "dream" and not torch.equal(l32[0], l32[1]):
        raise AssertionError("Dream logit shift self-check failed")
    return max(errs), lerr


# ----------------------------------------------------------------------------------------------
# Fixture building
# ----------------------------------------------------------------------------------------------

LLADA_CASES = [
    # name, gen_length, block_length, steps
    ("one-block", 16, 16, 16),
    ("four-blocks-two-steps", 16, 4, 8),
    ("two-blocks-four-per-step", 16, 8, 4),
    ("uneven-steps", 12, 12, 5),
    ("two-blocks-uneven-steps", 16, 8, 6),
]

DREAM_CASES = [
    # name, max_new_tokens, steps, alg
    ("maskgit-plus", 16, 16, "maskgit_plus"),
    ("topk-margin", 16, 16, "topk_margin"),
    ("entropy", 16, 16, "entropy"),
    ("maskgit-plus-8-steps", 16, 8, "maskgit_plus"),
    ("topk-margin-8-steps", 16, 8, "topk_margin"),
    ("topk-margin-uneven", 12, 5, "topk_margin"),
    ("maskgit-plus-uneven", 12, 5, "maskgit_plus"),
    ("entropy-12", 12, 12, "entropy"),
]


def candidate_prompts(case_index, family):
    rng = np.random.RandomState(1000 * (1 if family == "llada" else 2) + case_index)
    while True:
        n = int(rng.randint(5, 11))
        yield [int(v) for v in rng.randint(0, PROMPT_ID_LIMIT, size=n)]


def run_case(family, model, model64, prompt, case, limits=None):
    """Runs one generation case in float32 (with the margin limits) and, when it passes, again in
    float64; both must agree."""
    if family == "llada":
        _, gen, blk, steps = case
        x, counts, mg = llada_generate(model, prompt, gen, blk, steps, limits=limits)
        x64, counts64, _ = llada_generate(model64, prompt, gen, blk, steps)
    else:
        _, new, steps, alg = case
        x, counts, mg = dream_generate(model, prompt, new, steps, alg, limits=limits)
        x64, counts64, _ = dream_generate(model64, prompt, new, steps, alg)
    if not torch.equal(x, x64) or counts != counts64:
        raise AssertionError(f"float32 and float64 runs disagree although the margins passed: prompt {prompt}")
    return x, counts, mg


def perturbed_runs_agree(family, model, prompt, case, x, counts, amplitude=5e-6, seeds=(1, 2)):
    """Reruns a generation with uniform noise of +-amplitude added to every logit; True when every
    run gives the same tokens and counts."""
    orig = model.logits
    try:
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            model.logits = lambda ids: orig(ids) + (torch.rand(len(ids), model.V, generator=g) * 2 - 1) * amplitude
            if family == "llada":
                xp, cp, _ = llada_generate(model, prompt, *case[1:])
            else:
                xp, cp, _ = dream_generate(model, prompt, *case[1:])
            if not torch.equal(xp, x) or cp != counts:
                return False
    finally:
        model.logits = orig
    return True


def search_generation(family, model, model64, case_index, case, limits, max_tries):
    gen = candidate_prompts(case_index, family)
    for attempt in range(max_tries):
        prompt = next(gen)
        try:
            x, counts, mg = run_case(family, model, model64, prompt, case, limits)
        except Reject:
            continue
        return prompt, x, counts, mg, attempt
    raise SystemExit(f"{family} case {case[0]}: no prompt with min_margin >= {limits[0]} and relative "
                     f"confidence gap >= {limits[1]} in {max_tries} tries")


def forward_inputs(family, mask_id, eos_id):
    rng = np.random.RandomState(7 if family == "llada" else 8)
    prompt = [int(v) for v in rng.randint(0, PROMPT_ID_LIMIT, size=8)]
    first = prompt + [mask_id] * 16
    p2 = [int(v) for v in rng.randint(0, PROMPT_ID_LIMIT, size=6)]
    body = [int(v) for v in rng.randint(0, PROMPT_ID_LIMIT, size=10)]
    # mixed canvas: prompt, then decoded tokens and masks interleaved, an EOS, trailing masks
    pattern = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0]  # 1 = decoded token, 0 = mask
    gen = [t if keep else mask_id for t, keep in zip(body, pattern)]
    gen[-3] = eos_id
    mixed = p2 + gen
    return [("prompt-and-masks", first), ("mixed-canvas", mixed)]


# ----------------------------------------------------------------------------------------------
# dLLM-Cache fixtures (--cache)
# ----------------------------------------------------------------------------------------------

MIN_SIM_GAP_DEFAULT = 1e-5  # cosine units: ~100x the float32 rounding of a cosine

# Each case: name, the sampler case (as in LLADA_CASES / DREAM_CASES, without the name),
# prompt_interval K_p, response_interval K_r, transfer_ratio rho, forwards whose logits are
# recorded, the prompt lengths searched, and whether the generated ids must differ from the same
# schedule with rho = 0 (see below).
#
# Why these sampler settings (see "dLLM-Cache" in the module docstring): a V-verify selection is
# only reproducible when the k-th and (k+1)-th cosines are far apart. In these tiny models the
# cosine of a token whose own input did not change since the previous forward is 1 - O(1e-6),
# all within a few float32 ulps of each other, while a token decoded since the previous forward
# has a cosine far from 1. So every V-verify forward must follow a step that decoded at least
# k = int(G * rho) tokens: LLaDA steps = G / 4 for rho 0.25 and G / 2 for rho 0.5; Dream
# max_new_tokens 17 (counts [4, 4, 4, 5] with 4 steps, [8, 9] with 2), because with 16 its first
# step decodes int(16 * 0.24975) = 3 < 4 tokens. The "verify-4-of-N" cases decode more than k
# tokens per step (LLaDA [6, 5, 5], Dream [5, 5, 6]), so the selection ranks the decoded tokens by
# their cosines and leaves some of them stale. The rho = 0 case (no V-verify) keeps 16 steps.
#
# With K_p = 4, K_r = 2 case C never occurs ((n-1) % 4 == 0 implies (n-1) % 2 == 0), so the
# all-cases run uses K_p = 2, K_r = 3: forwards 1 A, 2 D, 3 C, 4 B (layers >= 1; layer 0 is always A).
#
# Whether V-verify can change the generated ids: S holds only tokens decoded since the previous
# forward, so V-verify rewrites only decoded rows and, in a C forward, the prompt features (the
# prompt attends to the overwritten gen V). A LLaDA masked position's logits come from its own
# hidden state, whose layer >= 1 features are refreshed only in A and B forwards, so in LLaDA
# V-verify reaches a decision only through a C forward followed by a B forward (the K_p = 2,
# K_r = 3 run); in the other LLaDA V-verify cases the ids equal those of rho = 0 by construction
# (the check is off there). Dream's logits at position i come from hidden state i-1, often a
# selected decoded token, so every Dream V-verify case is required to differ.
LLADA_CACHE_CASES = [
    ("rho0.25-kp4-kr2-two-blocks", (16, 8, 4), 4, 2, 0.25, (), (6, 10), False),
    ("rho0.25-kp2-kr3-all-cases-f1A-f2D-f3C-f4B", (16, 16, 4), 2, 3, 0.25, (1, 2, 3, 4), (6, 6), True),
    ("rho0.25-kp100-kr100-verify-4-of-6-then-5", (16, 16, 3), 100, 100, 0.25, (), (6, 10), False),
    ("rho0-kp3-kr2-reuse-two-blocks", (16, 8, 16), 3, 2, 0.0, (), (6, 10), False),
    ("rho0.5-kp100-kr100-verify-every-step", (16, 16, 2), 100, 100, 0.5, (), (6, 10), False),
]
DREAM_CACHE_CASES = [
    ("rho0.25-kp4-kr2-maskgit-plus", (17, 4, "maskgit_plus"), 4, 2, 0.25, (), (6, 10), True),
    ("rho0.25-kp2-kr3-all-cases-f1A-f2D-f3C-f4B-topk-margin", (17, 4, "topk_margin"), 2, 3, 0.25, (1, 2, 3, 4), (6, 6), True),
    ("rho0.25-kp100-kr100-verify-4-of-5-topk-margin", (16, 3, "topk_margin"), 100, 100, 0.25, (), (6, 10), True),
    ("rho0-kp3-kr2-reuse-entropy", (16, 16, "entropy"), 3, 2, 0.0, (), (6, 10), False),
    ("rho0.5-kp100-kr100-verify-every-step-maskgit-plus", (17, 2, "maskgit_plus"), 100, 100, 0.5, (), (6, 10), True),
]
# The K_p = K_r = 1, rho = 0 case reuses the prompt and settings of this uncached case (index
# into LLADA_CASES / DREAM_CASES); its prompt is found again by the same seeded search.
CACHE_EQUALS_UNCACHED = {"llada": 1, "dream": 0}


def cached_generate(family, model, prompt, gen_case, kp, kr, rho, limits=None, gap_limit=None, capture=(),
                    check_uncached=None, logit_noise=None):
    """One generation with dLLM-Cache; returns (x, counts, Margins, CachedModel)."""
    r = CachedModel(model, len(prompt), kp, kr, rho, gap_limit=gap_limit, capture=capture,
                    check_uncached=check_uncached)
    if logit_noise is not None:
        g, amp = torch.Generator().manual_seed(logit_noise[0]), logit_noise[1]
        orig = r.logits
        r.logits = lambda ids: orig(ids) + (torch.rand(len(ids), model.V, generator=g) * 2 - 1) * amp
    if family == "llada":
        x, counts, mg = llada_generate(r, prompt, *gen_case, limits=limits)
    else:
        x, counts, mg = dream_generate(r, prompt, *gen_case, limits=limits)
    return x, counts, mg, r


def accept_cached(family, model, model64, prompt, cc, limits, gap_limit, discriminate=True):
    """The acceptance of a cached generation: margins and the similarity gap (float32, early
    Reject), the float64 run (same tokens, counts and V-verify selections) and two runs with
    the logits perturbed by +-5e-6. With discriminate, the generated ids must also hold at least
    two distinct tokens, differ from the uncached generation and, when the case asks for it
    (cc[7]), from the same schedule with rho = 0, so that the case on its own tells a cache from no
    cache and V-verify from none.
    Returns (x, counts, Margins, CachedModel)."""
    _, gen_case, kp, kr, rho = cc[:5]
    x, counts, mg, r = cached_generate(family, model, prompt, gen_case, kp, kr, rho, limits=limits,
                                       gap_limit=gap_limit)
    if discriminate:
        if len(set(x[len(prompt):].tolist())) < 2:
            raise Reject("a single generated token id")
        if family == "llada":
            xu = llada_generate(model, prompt, *gen_case)[0]
        else:
            xu = dream_generate(model, prompt, *gen_case)[0]
        if torch.equal(xu, x):
            raise Reject("same tokens as the uncached generation")
        if cc[7] and torch.equal(cached_generate(family, model, prompt, gen_case, kp, kr, 0.0)[0], x):
            raise Reject("same tokens as without V-verify")
    x64, counts64, _, r64 = cached_generate(family, model64, prompt, gen_case, kp, kr, rho)
    if not torch.equal(x, x64) or counts != counts64:
        raise AssertionError(f"cached float32 and float64 runs disagree although the margins passed: {prompt}")
    if r.selections != r64.selections:
        raise AssertionError(f"cached float32 and float64 V-verify selections differ although the gap passed: {prompt}")
    for seed in (1, 2):
        xp, cp, _, _ = cached_generate(family, model, prompt, gen_case, kp, kr, rho, logit_noise=(seed, 5e-6))
        if not torch.equal(xp, x) or cp != counts:
            raise AssertionError(f"{cc[0]}: a perturbation of 5e-6 flips a decision despite the margins")
    return x, counts, mg, r


def cache_candidate_prompts(case_index, family, lengths):
    rng = np.random.RandomState(7000 + 1000 * (1 if family == "llada" else 2) + case_index)
    lo, hi = lengths
    while True:
        n = int(rng.randint(lo, hi + 1))
        yield [int(v) for v in rng.randint(0, PROMPT_ID_LIMIT, size=n)]


def cache_settings(family, gen_case, kp, kr, rho):
    if family == "llada":
        gen, blk, steps = gen_case
        s = {"gen_length": gen, "block_length": blk, "steps": steps, "temperature": 0,
             "remasking": "low_confidence"}
    else:
        new, steps, alg = gen_case
        s = {"max_new_tokens": new, "steps": steps, "eps": 0.001, "temperature": 0, "alg": alg, "alg_temp": 0}
    s.update({"prompt_interval": kp, "response_interval": kr, "transfer_ratio": float(rho)})
    return s


def cases_note(r, n_layers, G, rho):
    per = " ".join(f"{n}{cs[1:] if len(set(cs[1:])) == 1 else '(' + cs[1:] + ')'}"
                   for n, cs in sorted(r.layer_cases.items()))
    k = int(G * rho)
    s = (f"layer cases of layers 1..{n_layers - 1} per forward (layer 0 is always A): {per}. ")
    if k > 0:
        s += f"V-verify in C and D with k = int({G} * {rho:g}) = {k}."
    else:
        s += "transfer_ratio 0: no V-verify, min_similarity_gap is 0 (no selection made)."
    return s


def check_cache_static(model, ids, P):
    """Self-check: on an unchanged canvas every layer case reproduces the uncached forward (the
    cached features equal the fresh ones), so forwards 1..6 must match Model.forward for any
    schedule and transfer ratio; with K_p = 1 and rho = 1 the same holds on a changing canvas
    (case C with S = every gen token is the full computation)."""
    worst = 0.0
    for kp, kr, rho in ((3, 2, 0.25), (3, 2, 0.0), (4, 2, 1.0), (100, 100, 0.5), (2, 3, 0.5)):
        r = CachedModel(model, P, kp, kr, rho, check_uncached=1e-6)
        for _ in range(6):
            r.logits(ids)
        got = set("".join(v[1:] for v in r.layer_cases.values()))
        if kp == 3 and kr == 2 and got != set("ABCD"):
            raise AssertionError(f"static self-check covered cases {got}, want A-D")
        worst = max(worst, r.uncached_diff)
    # Changing canvas, K_p = 1, rho = 1: every layer >= 1 is case C recomputing every gen row.
    rng = np.random.RandomState(11)
    r = CachedModel(model, P, 1, 1000, 1.0, check_uncached=1e-6)
    cur = list(ids)
    for _ in range(6):
        r.logits(cur)
        j = P + int(rng.randint(0, len(ids) - P))
        cur[j] = int(rng.randint(0, PROMPT_ID_LIMIT))
    if set("".join(v[1:] for v in r.layer_cases.values())) != {"C"} | ({"A"} if 1 in r.layer_cases else set()):
        raise AssertionError(f"rho=1 self-check: unexpected cases {r.layer_cases}")
    return max(worst, r.uncached_diff)


def build_cache_fixture(args, family, model, model64):
    limits = (args.min_margin, args.min_rel_gap)
    cases = LLADA_CACHE_CASES if family == "llada" else DREAM_CACHE_CASES
    out = []
    for ci, cc in enumerate(cases):
        name, gen_case, kp, kr, rho, capture, lengths, _ = cc
        gen = cache_candidate_prompts(ci, family, lengths)
        reasons = {}
        for attempt in range(args.max_tries):
            prompt = next(gen)
            try:
                x, counts, mg, r = accept_cached(family, model, model64, prompt, cc, limits, args.min_sim_gap)
            except Reject as e:
                key = "similarity gap" if "similarity gap" in str(e) else str(e)
                reasons[key] = reasons.get(key, 0) + 1
                continue
            break
        else:
            raise SystemExit(f"{family} cached case {name}: no prompt passed in {args.max_tries} tries ({reasons})")
        loop_diff = check_cache_loop(family, model, prompt, gen_case, kp, kr, rho)
        G = len(x) - len(prompt)
        k = int(G * rho)
        if family == "dream":
            new, steps, _ = gen_case
            if counts != dream_counts(new, steps) or counts != dream_counts(new, steps, exact=True):
                raise AssertionError(f"Dream schedule {counts} depends on float32 rounding")
        want = schedule_cases(model.n_layers, len(counts), kp, kr)
        if r.layer_cases != want:
            raise AssertionError(f"{name}: layer cases {r.layer_cases} != schedule {want}")
        if rho > 0 and 0 < k < G:
            n_sel = sum(1 for v in want.values() for cs in v if cs in "CD")
            if len(r.selections) != n_sel or not math.isfinite(r.min_gap):
                raise AssertionError(f"{name}: {len(r.selections)} V-verify selections, want {n_sel}")
            gap = r.min_gap
        else:
            if r.selections:
                raise AssertionError(f"{name}: selections without transfer")
            gap = 0.0
        entry = {"name": name, "prompt_ids": list(prompt), "settings": cache_settings(family, gen_case, kp, kr, rho),
                 "cases": cases_note(r, model.n_layers, G, rho), "transfer_counts": counts,
                 "generated_ids": x[len(prompt):].tolist(), "min_margin": mg.min_margin(),
                 "min_similarity_gap": gap}
        if capture:
            xc, cc_counts, _, rc = cached_generate(family, model, prompt, gen_case, kp, kr, rho, capture=capture)
            if not torch.equal(xc, x) or cc_counts != counts:
                raise AssertionError("capture rerun differs")
            if {rc.layer_cases[n][1] for n in capture} != set("ABCD") or rc.layer_cases[1] != "A" * model.n_layers:
                raise AssertionError(f"{name}: captured forwards {[rc.layer_cases[n] for n in capture]} miss a case")
            entry["step_logits"] = [{"forward": n, "logits": rc.captured[n].reshape(-1).tolist()} for n in capture]
        print(f"[{family}] cached {name}: prompt try {attempt} (rejected: {reasons}), len {len(prompt)}, "
              f"counts {counts}, min_margin {mg.min_margin():.4g} (argmax gap {mg.argmax_gap:.4g}, selection "
              f"{mg.select:.4g}, relative {mg.select_rel:.4g}), min_similarity_gap {gap:.4g}, "
              f"{len(r.selections)} selections; float64 loop implementation agrees to {loop_diff:.3g}", file=sys.stderr)
        out.append(entry)

    # K_p = K_r = 1, rho = 0: the uncached case's prompt and settings; every forward must equal
    # the uncached forward and the generation the uncached one.
    ui = CACHE_EQUALS_UNCACHED[family]
    ucase = (LLADA_CASES if family == "llada" else DREAM_CASES)[ui]
    prompt, ux, ucounts, umg, _ = search_generation(family, model, model64, ui, ucase, limits, args.max_tries)
    cc = (f"kp1-kr1-rho0-equals-uncached-{ucase[0]}", ucase[1:], 1, 1, 0.0, (), None, False)
    x, counts, mg, r = cached_generate(family, model, prompt, ucase[1:], 1, 1, 0.0, limits=limits,
                                       check_uncached=1e-6)
    if not torch.equal(x, ux) or counts != ucounts:
        raise AssertionError("K_p = K_r = 1, rho = 0: the cached generation differs from the uncached one")
    accept_cached(family, model, model64, prompt, cc, limits, args.min_sim_gap, discriminate=False)
    check_cache_loop(family, model, prompt, ucase[1:], 1, 1, 0.0)
    if args.uncached_fixture:
        with open(args.uncached_fixture) as f:
            ufix = json.load(f)
        uc = [g for g in ufix["generate"] if g["name"] == ucase[0]][0]
        if uc["prompt_ids"] != list(prompt) or uc["generated_ids"] != x[len(prompt):].tolist() \
                or uc["transfer_counts"] != counts:
            raise AssertionError(f"K_p = K_r = 1 case differs from {args.uncached_fixture} case {ucase[0]}")
    G = len(x) - len(prompt)
    out.append({"name": cc[0], "prompt_ids": list(prompt), "settings": cache_settings(family, ucase[1:], 1, 1, 0.0),
                "cases": cases_note(r, model.n_layers, G, 0.0) + f" Every forward equals the uncached forward "
                         f"(in this reference: {'bitwise' if r.uncached_bitwise else 'max diff %.3g' % r.uncached_diff}); prompt, "
                         f"settings and generated_ids are those of the uncached case {ucase[0]}.",
                "transfer_counts": counts, "generated_ids": x[len(prompt):].tolist(), "min_margin": mg.min_margin(),
                "min_similarity_gap": 0.0})
    print(f"[{family}] cached {cc[0]}: equals the uncached case {ucase[0]} "
          f"({'bitwise' if r.uncached_bitwise else 'max diff %.3g' % r.uncached_diff}), min_margin {mg.min_margin():.4g}",
          file=sys.stderr)
    return out


def fmt_float(v):
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"non-finite float {v} in fixture")
    s = "%.9g" % v
    return s


def to_json(obj, indent=0):
    """JSON with floats as %.9g; float lists on one line."""
    pad = "  " * indent
    pad1 = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj):
            return "[" + ",".join(str(v) if isinstance(v, int) else fmt_float(v) for v in obj) + "]"
        items = [pad1 + to_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return fmt_float(obj)
    if obj is None:
        return "null"
    return json.dumps(obj)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory (config.json, model.safetensors)")
    ap.add_argument("--family", required=True, choices=["llada", "dream"])
    ap.add_argument("--out", required=True, help="fixture JSON file to write")
    ap.add_argument("--seed", type=int, required=True, help="testmodel --seed used for the checkpoint (recorded)")
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="0: the testmodel default (llada: heads, dream: heads/2)")
    ap.add_argument("--mlp", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=320)
    ap.add_argument("--min-margin", type=float, default=MIN_MARGIN_DEFAULT)
    ap.add_argument("--min-rel-gap", type=float, default=MIN_REL_GAP_DEFAULT)
    ap.add_argument("--max-tries", type=int, default=20000)
    ap.add_argument("--cache", action="store_true",
                    help="write the dLLM-Cache fixture (cached_generate) instead of the uncached one")
    ap.add_argument("--min-sim-gap", type=float, default=MIN_SIM_GAP_DEFAULT,
                    help="--cache: smallest accepted gap between the k-th and (k+1)-th V-verify cosine")
    ap.add_argument("--uncached-fixture", default="",
                    help="--cache: the uncached fixture of the same checkpoint; the K_p = K_r = 1 case is "
                         "checked against its generation")
    args = ap.parse_args()

    torch.set_num_threads(1)
    family = args.family
    config, tensors = load_checkpoint(args.checkpoint)
    model = Model(family, config, tensors, torch.float32)
    model64 = Model(family, config, tensors, torch.float64)

    kv = args.kv_heads or (args.heads // 2 if family == "dream" and args.heads % 2 == 0 else args.heads)
    got = dict(d_model=model.D, layers=model.n_layers, heads=model.H, kv_heads=model.KV, mlp=model.I, vocab=model.V)
    want = dict(d_model=args.d_model, layers=args.layers, heads=args.heads, kv_heads=kv, mlp=args.mlp, vocab=args.vocab)
    if got != want:
        raise SystemExit(f"checkpoint sizes {got} differ from the flags {want}")
    single = os.path.join(args.checkpoint, "model.safetensors")
    if not os.path.exists(single):
        raise SystemExit("the fixture records the sha256 of model.safetensors; write the checkpoint unsharded")

    eos_id = int(config["eos_token_id"])
    finputs = forward_inputs(family, model.mask_id, eos_id)
    herr, lerr = self_check(model, model64, finputs[1][1])
    print(f"[{family}] self-checks passed; float32 vs float64 forward: hidden {herr:.3g}, logits {lerr:.3g}",
          file=sys.stderr)
    checkpoint = {"family": family, "seed": args.seed, "d_model": model.D, "layers": model.n_layers,
                  "heads": model.H, "kv_heads": model.KV, "mlp": model.I, "vocab": model.V,
                  "model_sha256": sha256_file(single)}

    if args.cache:
        cerr = check_cache_static(model, finputs[1][1], 6)
        print(f"[{family}] dLLM-Cache self-checks passed (max logit diff to the uncached forward {cerr:.3g})",
              file=sys.stderr)
        fixture = {
            "generator": "hack/parity/reference.py",
            "torch_version": torch.__version__,
            "checkpoint": checkpoint,
            "cached_generate": build_cache_fixture(args, family, model, model64),
        }
        write_fixture(fixture, args.out, family)
        return

    forward = []
    for name, ids in finputs:
        hidden, logits = model.forward(ids)
        forward.append({
            "name": name,
            "input_ids": list(ids),
            "hidden_states": [h.reshape(-1).tolist() for h in hidden],
            "logits": logits.reshape(-1).tolist(),
        })

    cases = LLADA_CASES if family == "llada" else DREAM_CASES
    generate = []
    for ci, case in enumerate(cases):
        prompt, x, counts, mg, attempt = search_generation(family, model, model64, ci, case,
                                                           (args.min_margin, args.min_rel_gap), args.max_tries)
        if not perturbed_runs_agree(family, model, prompt, case, x, counts):
            raise AssertionError(f"{family} {case[0]}: a perturbation of 5e-6 flips a decision despite the margins")
        if family == "llada":
            _, gen, blk, steps = case
            settings = {"gen_length": gen, "block_length": blk, "steps": steps, "temperature": 0,
                        "remasking": "low_confidence"}
        else:
            _, new, steps, alg = case
            if counts != dream_counts(new, steps) or counts != dream_counts(new, steps, exact=True):
                raise AssertionError(f"Dream schedule {counts} depends on float32 rounding")
            settings = {"max_new_tokens": new, "steps": steps, "eps": 0.001, "temperature": 0, "alg": alg,
                        "alg_temp": 0}
        margin = mg.min_margin()
        print(f"[{family}] {case[0]}: prompt try {attempt}, len {len(prompt)}, counts {counts}, "
              f"min_margin {margin:.4g} (argmax gap {mg.argmax_gap:.4g}, selection {mg.select:.4g}, "
              f"raw confidence gap {mg.select_raw:.4g}, relative {mg.select_rel:.4g})", file=sys.stderr)
        generate.append({
            "name": case[0],
            "prompt_ids": list(prompt),
            "settings": settings,
            "transfer_counts": counts,
            "generated_ids": x[len(prompt):].tolist(),
            "min_margin": margin,
        })

    fixture = {
        "generator": "hack/parity/reference.py",
        "torch_version": torch.__version__,
        "checkpoint": checkpoint,
        "forward": forward,
        "generate": generate,
    }
    write_fixture(fixture, args.out, family)


def write_fixture(fixture, out, family):
    text = to_json(fixture) + "\n"
    json.loads(text)  # well-formed
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    print(f"[{family}] wrote {out} ({len(text)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
