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
        None, for alg in {maskgit_plus, topk_margin, entropy}.
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
    (--kv-heads 2 is Dream's default, so the checkpoint equals the one without the flag.)
    The output is deterministic: a rerun writes byte-identical fixtures. Run time ~30 s.
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
        "checkpoint": {"family": family, "seed": args.seed, "d_model": model.D, "layers": model.n_layers,
                       "heads": model.H, "kv_heads": model.KV, "mlp": model.I, "vocab": model.V,
                       "model_sha256": sha256_file(single)},
        "forward": forward,
        "generate": generate,
    }
    text = to_json(fixture) + "\n"
    json.loads(text)  # well-formed
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print(f"[{family}] wrote {args.out} ({len(text)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
