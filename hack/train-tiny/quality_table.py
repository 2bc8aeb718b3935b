#!/usr/bin/env python3
"""Measure accuracy and speed of the exact path and a grid of dLLM-Cache settings on the task suite.

Runs `dllm-runtime eval --json` once for the exact path and once per cache setting (with
--agreement, so each cached run is also compared with the uncached one as the runtime's shadow
checks compare them), then prints a Markdown report: per setting the accuracy on every task, the
wall-clock speedup over the exact path (eval's timed generation only; the comparison runs are
not timed), and the agreement signals; then how well the agreement signals predict the loss of
accuracy across settings.

Usage: quality_table.py --runtime BIN --model DIR [--items 50] [--seed 1] [--tasks all] > report.md
Standard library only.
"""

import argparse
import json
import math
import subprocess
import sys

# (K_p, K_r, rho): K_p from 1 to 200, K_r from 1 to 16, rho from 0 to 0.5, varied one at a
# time around the paper's defaults (K_p 100, K_r 7, rho 0.25) plus the corners.
GRID = [
    (1, 1, 0.0),
    (5, 1, 0.0), (25, 1, 0.0), (100, 1, 0.0), (200, 1, 0.0),
    (100, 2, 0.25), (100, 4, 0.25), (100, 7, 0.25), (100, 16, 0.25),
    (100, 7, 0.0), (100, 7, 0.5),
    (10, 4, 0.25), (50, 8, 0.25), (200, 16, 0.0), (200, 16, 0.5),
]


def run_eval(args, extra):
    cmd = [args.runtime, "eval", "--model", args.model, "--items", str(args.items), "--seed", str(args.seed), "--tasks", args.tasks, "--json"] + extra
    print("#", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def pearson(xs, ys):
    n = len(xs)
    if n < 3:
        return float("nan")
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tasks", default="all", help="tasks to score, as eval's --tasks takes them")
    args = ap.parse_args()

    exact = run_eval(args, [])
    tasks = [t["task"] for t in exact["tasks"]]
    exact_seconds = {t["task"]: t["seconds"] for t in exact["tasks"]}
    rows = []
    for kp, kr, rho in GRID:
        res = run_eval(args, ["--cache", "--agreement", "--cache-prompt-interval", str(kp),
                              "--cache-response-interval", str(kr), "--cache-transfer-ratio", str(rho)])
        rows.append(((kp, kr, rho), res))

    acc = lambda r: {t["task"]: t["accuracy"] for t in r["tasks"]}
    mean = lambda xs: sum(xs) / len(xs)
    print("# Quality and speed of dLLM-Cache settings on the tiny task model\n")
    print(f"Reproduce with `hack/train-tiny/quality_table.py --runtime dllm-runtime --model {args.model} --items {args.items} --tasks {args.tasks}`.")
    print(f"Model `{args.model}`, {args.items} held-out items per task (seed {args.seed}), "
          "steps = response length, low-confidence remasking, one block.\n")
    head = "| K_p | K_r | rho | " + " | ".join(tasks) + " | mean | speedup | top-1 agr. | token agr. | same answer |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    ea = acc(exact)
    print("| exact | | | " + " | ".join(f"{100 * ea[t]:.0f}%" for t in tasks)
          + f" | {100 * mean(list(ea.values())):.1f}% | 1.00x | | | |")
    points = []
    for (kp, kr, rho), res in rows:
        a = acc(res)
        speed = sum(exact_seconds.values()) / sum(t["seconds"] for t in res["tasks"])
        un = [t["uncached"] for t in res["tasks"]]
        top1, tok, same = (mean([u[k] for u in un]) for k in ("top1_agreement", "token_agreement", "same_answer"))
        drop = mean([t["uncached"]["uncached_accuracy"] - t["accuracy"] for t in res["tasks"]])
        points.append((top1, tok, same, drop))
        print(f"| {kp} | {kr} | {rho} | " + " | ".join(f"{100 * a[t]:.0f}%" for t in tasks)
              + f" | {100 * mean(list(a.values())):.1f}% | {speed:.2f}x | {100 * top1:.1f}% | {100 * tok:.1f}% | {100 * same:.1f}% |")
    print()
    print("Speedup: the exact run's generation time over the cached run's, summed over tasks.")
    print("Agreement columns: means over tasks of the shadow signals (`dllm-runtime eval --agreement`).\n")
    print("How well each signal predicts the accuracy lost to the cache, across the settings above")
    print("(Pearson correlation of the signal's disagreement, 1 - agreement, with the accuracy drop):\n")
    drops = [p[3] for p in points]
    for name, k in (("top-1 agreement", 0), ("token agreement", 1), ("same answer", 2)):
        r = pearson([1 - p[k] for p in points], drops)
        print(f"- {name}: r = {r:.2f}")


if __name__ == "__main__":
    main()
