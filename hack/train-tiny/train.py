#!/usr/bin/env python3
"""Train a tiny LLaDA-architecture masked diffusion model on the runtime's task suite.

The architecture, sizes and special token ids come from a base checkpoint folder written by
`dllm-runtime testmodel` (config.json, tokenizer.json, tokenizer_config.json); the training items
are streamed from `dllm-runtime tasks --stream` (JSON lines with prompt_ids and answer_ids, the
answer padded with end-of-sequence tokens to the task's response length), fresh every batch.
The result is a checkpoint in LLaDA's exact layout (model.transformer.* tensors, BF16
safetensors) that the runtime loads with no special case, plus train.json with what the model
card needs.

Objective (LLaDA supervised fine-tuning): for each item draw a mask ratio t, mask that share of
the response, and minimise the cross-entropy of the masked tokens weighted by 1/t, averaged over
the response length L. By default (--masking count) t = l/L with l ~ U{1, ..., L} and exactly l
tokens masked, the lower-variance form of the same bound that LLaDA uses to evaluate likelihoods
(LLaDA paper, eq. 6): the weight L/l makes each item's loss the mean cross-entropy of its masked
tokens. --masking bernoulli is LLaDA's training code: t ~ U(eps, 1), each token masked with
probability t. On answers of a few tokens the latter's loss is mostly zero, with rare spikes
of weight up to 1/eps that the gradient clipping then scales the whole step down for; the
former has the same expectation and no such spikes. Both draw t stratified over the batch (one
draw shifted by i/B). The prompt is never masked. Attention is bidirectional; left padding is
masked out of the keys and RoPE positions count from the first real token, as the runtime
batches.

Usage: train.py --base DIR --runtime BIN --tasks NAMES --out DIR [--steps N | --minutes M] [--seed 1]
Needs Debian's python3-torch (1.13), python3-numpy and an optimised BLAS (libopenblas0-pthread:
with the reference libblas3 a step is about 15 times slower); trains on the CPU (--device cuda only
speeds up a search for a recipe); seeded, and with --steps the same schedule on any machine (the
numbers are bit-identical only with the same PyTorch, BLAS and thread count).
"""

import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

# The parity reference's checkpoint reader (BF16, F32, sharded) and file digest.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
import reference  # noqa: E402


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(torch.nn.Module):
    def __init__(self, d, heads, kv_heads, inter, eps):
        super().__init__()
        self.heads, self.kv_heads, self.dh, self.eps = heads, kv_heads, d // heads, eps
        self.attn_norm = torch.nn.Parameter(torch.ones(d))
        self.q_proj = torch.nn.Linear(d, heads * self.dh, bias=False)
        self.k_proj = torch.nn.Linear(d, kv_heads * self.dh, bias=False)
        self.v_proj = torch.nn.Linear(d, kv_heads * self.dh, bias=False)
        self.attn_out = torch.nn.Linear(heads * self.dh, d, bias=False)
        self.ff_norm = torch.nn.Parameter(torch.ones(d))
        self.ff_proj = torch.nn.Linear(d, inter, bias=False)  # gate
        self.up_proj = torch.nn.Linear(d, inter, bias=False)
        self.ff_out = torch.nn.Linear(inter, d, bias=False)  # down

    def forward(self, x, cos, sin, key_bias):
        b, n, _ = x.shape
        h = rms_norm(x, self.attn_norm, self.eps)
        q = self.q_proj(h).view(b, n, self.heads, self.dh).transpose(1, 2)
        k = self.k_proj(h).view(b, n, self.kv_heads, self.dh).transpose(1, 2)
        v = self.v_proj(h).view(b, n, self.kv_heads, self.dh).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        if rep > 1:
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        # One fused scale-and-mask matmul: scores = bias + q k^T / sqrt(dh); the n-by-n
        # elementwise passes (divide, mask) dominated a step on the CPU.
        q, k, v = (t.reshape(b * self.heads, n, self.dh) for t in (q, k, v))
        bias = key_bias.repeat_interleave(self.heads, dim=0)
        scores = torch.baddbmm(bias, q, k.transpose(1, 2), alpha=1 / math.sqrt(self.dh))
        att = (scores.softmax(-1) @ v).view(b, self.heads, n, self.dh).transpose(1, 2).reshape(b, n, -1)
        x = x + self.attn_out(att)
        h = rms_norm(x, self.ff_norm, self.eps)
        return x + self.ff_out(F.silu(self.ff_proj(h)) * self.up_proj(h))


class LLaDA(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, v = cfg["d_model"], cfg["embedding_size"]
        self.eps, self.theta = cfg["rms_norm_eps"], cfg["rope_theta"]
        self.dh = d // cfg["n_heads"]
        self.wte = torch.nn.Embedding(v, d)
        self.blocks = torch.nn.ModuleList(
            Block(d, cfg["n_heads"], cfg["n_kv_heads"], cfg["mlp_hidden_size"], self.eps) for _ in range(cfg["n_layers"])
        )
        self.ln_f = torch.nn.Parameter(torch.ones(d))
        self.ff_out = torch.nn.Linear(d, v, bias=False)
        # Width-independent initialisation: std 1 for the embeddings, 1/sqrt(3 fan_in) for the
        # projections (PyTorch's default scale for Linear), and zero for each block's output
        # projections, so that every block starts as the identity. LLaDA's std 0.02 suits
        # d_model 4096; at d_model 128 it starts the network near zero. On the lookup retrieval
        # needs (a key found by content, its value read two tokens on) over 2 pairs, batches of
        # 64: with std 1/sqrt(fan_in) and no zeroed outputs, 4 layers were still at chance after
        # 1 000 steps; with this initialisation they learn it in 800.
        torch.nn.init.normal_(self.wte.weight, std=1.0)
        for m in self.modules():
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, std=(3 * m.in_features) ** -0.5)
        for blk in self.blocks:
            torch.nn.init.zeros_(blk.attn_out.weight)
            torch.nn.init.zeros_(blk.ff_out.weight)

    def forward(self, ids, pad, start=0):
        """Logits at positions [start, n) of left-padded ids (pad: padding per row)."""
        b, n = ids.shape
        d = ids.device
        pos = (torch.arange(n, device=d)[None, :] - pad[:, None]).clamp(min=0).float()
        inv = 1.0 / (self.theta ** (torch.arange(0, self.dh, 2, device=d).float() / self.dh))
        freqs = pos[..., None] * inv
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # [b, 1, n, dh]
        cos, sin = emb.cos(), emb.sin()
        # Left padding is masked out of the keys: -inf where a key is padding, [b, 1, n].
        key_bias = torch.zeros(b, 1, n, device=d).masked_fill((torch.arange(n, device=d)[None, :] < pad[:, None])[:, None, :], float("-inf"))
        x = self.wte(ids)
        for blk in self.blocks:
            x = blk(x, cos, sin, key_bias)
        if start:
            x = x[:, start:]
        return self.ff_out(rms_norm(x, self.ln_f, self.eps))

    def named_for_checkpoint(self):
        """Yields (LLaDA tensor name, tensor)."""
        p = "model.transformer."
        yield p + "wte.weight", self.wte.weight
        for i, blk in enumerate(self.blocks):
            b = f"{p}blocks.{i}."
            yield b + "attn_norm.weight", blk.attn_norm
            for name in ("q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"):
                yield b + name + ".weight", getattr(blk, name).weight
            yield b + "ff_norm.weight", blk.ff_norm
        yield p + "ln_f.weight", self.ln_f
        yield p + "ff_out.weight", self.ff_out.weight


def write_safetensors(path, tensors):
    """BF16 safetensors: an 8-byte header length, the JSON header, then the raw data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        data = t.detach().cpu().to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


class TaskStream:
    """Training items of one task, never the same twice: `dllm-runtime tasks --stream` read lazily.

    A fixed set of items is learned by heart: a model trained on 1 732 short retrieval items
    reached a training loss near zero and chance accuracy on held-out items. Fresh items leave
    only the general rule to learn.

    Length curriculum: at training progress f in [0, 1] an item is kept only if its prompt is no
    longer than the min(1, 0.05 + f / curriculum) quantile of the task's prompt lengths (from
    its first 1000 items), so the model first learns on short prompts (few distracting pairs in
    retrieval) and sees the longest ones once f reaches curriculum.
    """

    def __init__(self, runtime, base, task, seed):
        self.proc = subprocess.Popen(
            [runtime, "tasks", "--model", base, "--split", "train", "--seed", str(seed), "--tasks", task, "--stream"],
            stdout=subprocess.PIPE, text=True, bufsize=1 << 16)
        self.drawn = 0
        self.waiting = [self._read() for _ in range(1000)]
        self.lengths = sorted(len(it["prompt_ids"]) for it in self.waiting)

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"dllm-runtime tasks --stream ended (exit status {self.proc.wait()})")
        return json.loads(line)

    def next(self, share):
        """The next item no longer than the share quantile of prompt lengths."""
        cap = self.lengths[min(len(self.lengths) - 1, int(share * len(self.lengths)))]
        while True:
            it = self.waiting.pop() if self.waiting else self._read()
            if len(it["prompt_ids"]) <= cap:
                self.drawn += 1
                return it

    def put_back(self, it):
        """Returns an item that next handed out but that was not used: next hands it out again."""
        self.waiting.append(it)
        self.drawn -= 1

    def close(self):
        self.proc.kill()
        self.proc.wait()


def batches(streams, weights, pad_id, tokens_per_batch, rng, progress, curriculum):
    """Endless batches of one task each, the task drawn by weight: left-padded ids, pads."""
    tasks = sorted(streams)
    w = [weights.get(t, 1.0) for t in tasks]
    while True:
        task = rng.choices(tasks, weights=w)[0]
        share = min(1.0, 0.05 + progress() / curriculum) if curriculum > 0 else 1.0
        # Fill the batch up to tokens_per_batch of padded rows, at most 64 rows; the item that
        # would overflow it opens the next batch of this task.
        chosen, p = [], 0
        while len(chosen) < 64:
            it = streams[task].next(share)
            longest = max(p, len(it["prompt_ids"]))
            if chosen and (longest + it["gen_length"]) * (len(chosen) + 1) > tokens_per_batch:
                streams[task].put_back(it)
                break
            chosen.append(it)
            p = longest
        ids = torch.tensor([[pad_id] * (p - len(it["prompt_ids"])) + it["prompt_ids"] + it["answer_ids"] for it in chosen])
        pad = torch.tensor([p - len(it["prompt_ids"]) for it in chosen])
        yield task, ids, pad, p


def save(model, args, cfg, streams, weights, params, step, minutes, loss):
    """Writes the checkpoint folder: config and tokenizer from the base, BF16 weights, train.json."""
    os.makedirs(args.out, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.base, name), os.path.join(args.out, name))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    path = os.path.join(args.out, "model.safetensors")
    write_safetensors(path, list(model.named_for_checkpoint()))
    summary = {
        "parameters": params, "steps": step, "minutes": round(minutes, 1), "final_loss": loss,
        "init": args.init, "seed": args.seed, "lr": args.lr, "weights": weights, "curriculum": args.curriculum, "masking": args.masking, "rope_theta": cfg["rope_theta"],
        "tokens_per_batch": args.tokens_per_batch, "threads": args.threads, "device": args.device, "steps_budget": args.steps, "stop_after": args.stop_after, "stop_loss": args.stop_loss,
        "items": {k: v.drawn for k, v in sorted(streams.items())}, "model.safetensors sha256": reference.sha256_file(path),
        "torch": torch.__version__,
    }
    with open(os.path.join(args.out, "train.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    return summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="folder from dllm-runtime testmodel: config and tokenizer")
    ap.add_argument("--runtime", required=True, help="the dllm-runtime binary: its tasks command streams the training items")
    ap.add_argument("--tasks", required=True, help="tasks to train on, as dllm-runtime tasks --tasks takes them")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=50, help="training time budget (ignored with --steps)")
    ap.add_argument("--steps", type=int, default=0, help="train exactly this many steps: reproducible on any machine, unlike a time budget")
    ap.add_argument("--stop-after", type=int, default=0, help="with --steps: stop after this many steps of that schedule (a stage that keeps the learning rate near its peak)")
    ap.add_argument("--stop-loss", type=float, default=0, help="stop once the running mean of the loss falls below this (a stage that ends when its skill is learned)")
    ap.add_argument("--masking", choices=("count", "bernoulli"), default="count", help="how the mask ratio is drawn and applied (see the objective above)")
    ap.add_argument("--rope-theta", type=float, default=0, help="RoPE base for the trained model (default: the base config's)")
    ap.add_argument("--save-every", type=int, default=0, help="also write the checkpoint every this many steps")
    ap.add_argument("--device", default="cpu", help="torch device (cpu, cuda): a GPU only speeds up recipe search; the shipped model trains on the CPU")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tokens-per-batch", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--init", default="", help="start from this checkpoint folder's weights instead of random ones")
    ap.add_argument("--curriculum", type=float, default=0.5, help="training share after which the longest prompts are drawn (0: no curriculum)")
    ap.add_argument("--weights", default="", help="task=weight,... (default 1 each): how often a task's batch is drawn")
    args = ap.parse_args()
    weights = {k: float(v) for k, v in (kv.split("=") for kv in args.weights.split(",") if kv)}

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.base, "config.json")) as f:
        cfg = json.load(f)
    if args.rope_theta:
        # LLaDA 8B's base of 500 000 turns its 64 frequency pairs slowly; a tiny model's head
        # has 16, and with that base only the fastest few tell neighbouring positions apart.
        cfg["rope_theta"] = args.rope_theta
    mask_id, pad_id = cfg["mask_token_id"], cfg["pad_token_id"]
    names = subprocess.run([args.runtime, "tasks", "--model", args.base, "--tasks", args.tasks, "--items", "1"],
                           check=True, capture_output=True, text=True).stdout
    streams = {json.loads(line)["task"]: None for line in names.splitlines()}
    streams = {t: TaskStream(args.runtime, args.base, t, args.seed) for t in streams if weights.get(t, 1.0) > 0}

    model = LLaDA(cfg)
    if args.init:
        _, init = reference.load_checkpoint(args.init)
        with torch.no_grad():
            for name, p in model.named_for_checkpoint():
                if name not in init or init[name].shape != p.shape:
                    raise SystemExit(f"--init {args.init}: no tensor {name} of shape {list(p.shape)}")
                p.copy_(init[name])
    dev = torch.device(args.device)
    model.to(dev)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    budget = args.minutes * 60
    start, step, ema, task_ema = time.time(), 0, None, {}
    # Training progress in [0, 1]: steps taken, or time spent, against the budget.
    progress = (lambda: step / args.steps) if args.steps else (lambda: (time.time() - start) / budget)
    for task, ids, pad, p in batches(streams, weights, pad_id, args.tokens_per_batch, rng, progress, args.curriculum):
        elapsed = time.time() - start
        frac = progress()
        if frac >= 1 or (args.stop_after and step >= args.stop_after):
            break
        if args.stop_loss and ema is not None and step >= 200 and ema < args.stop_loss:
            # The loss has left the plateau: the stage has done its job.
            break
        ids, pad = ids.to(dev), pad.to(dev)
        lr = args.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        answer = ids[:, p:]
        # Each row's t is uniform; stratified across the batch (one draw shifted by i/B), the
        # batch's 1/t-weighted loss varies far less.
        u = (torch.rand(1) + torch.arange(ids.shape[0]) / ids.shape[0]) % 1
        big_l = answer.shape[1]
        if args.masking == "count":
            masked_count = 1 + (u * big_l).long().clamp(max=big_l - 1)
            t = masked_count.float() / big_l
            # The masked_count lowest of a random score per token: exactly that many, uniformly placed.
            rank = torch.rand(answer.shape).argsort(1).argsort(1)
            masked = rank < masked_count[:, None]
        else:
            t = u * (1 - 1e-3) + 1e-3
            masked = torch.rand(answer.shape) < t[:, None]
        t, masked = t.to(dev), masked.to(dev)
        noisy = ids.clone()
        noisy[:, p:] = torch.where(masked, torch.full_like(answer, mask_id), answer)
        logits = model(noisy, pad, start=p)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), answer.reshape(-1), reduction="none").view(answer.shape)
        loss = ((ce * masked).sum(1) / t / big_l).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        task_ema[task] = loss.item() if task not in task_ema else 0.9 * task_ema[task] + 0.1 * loss.item()
        step += 1
        if step % 50 == 0:
            per_task = " ".join(f"{k} {v:.3f}" for k, v in sorted(task_ema.items()))
            print(f"step {step} {elapsed / 60:.1f} min lr {lr:.2e} loss {ema:.4f}: {per_task}", flush=True)
        if args.save_every and step % args.save_every == 0:
            save(model, args, cfg, streams, weights, params, step, elapsed / 60, ema)

    summary = save(model, args, cfg, streams, weights, params, step, (time.time() - start) / 60, ema)
    for st in streams.values():
        st.close()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
