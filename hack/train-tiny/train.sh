#!/usr/bin/env bash
# train.sh trains the tiny task model: a LLaDA-architecture network (by default d_model 192,
# 6 layers, 6 heads, MLP 512; the runtime's byte-level test tokenizer) on training items of the task suite
# (runtime/tasks), with LLaDA's masked-diffusion objective, on the CPU. Run once by a developer,
# not by CI; seeded. Then it scores the result on held-out items.
#
# Usage: hack/train-tiny/train.sh OUT_DIR
# Environment: MINUTES (training time, default 50), ITEMS (training items per task, default
# 20000), SEED (default 1), LR (peak learning rate, default 1e-3), SIZE (testmodel size flags,
# default "--d-model 192 --layers 6 --heads 6 --mlp 512"), PYTHON (an interpreter with
# python3-torch and python3-numpy, default /usr/bin/python3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

out=${1:?usage: train.sh OUT_DIR}
minutes=${MINUTES:-50}
items=${ITEMS:-20000}
seed=${SEED:-1}
lr=${LR:-1e-3}
read -r -a size <<<"${SIZE:---d-model 192 --layers 6 --heads 6 --mlp 512}"
python=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/dllm-runtime" ./cmd/dllm-runtime
# The base folder fixes the architecture, sizes, special ids and tokenizer; its random
# weights are not used.
"$tmp/dllm-runtime" testmodel --family llada --out "$tmp/base" --seed "$seed" "${size[@]}" >/dev/null
"$tmp/dllm-runtime" tasks --model "$tmp/base" --split train --items "$items" --seed "$seed" >"$tmp/train.jsonl"
"$python" hack/train-tiny/train.py --base "$tmp/base" --data "$tmp/train.jsonl" --out "$out" \
	--minutes "$minutes" --seed "$seed" --lr "$lr"
"$tmp/dllm-runtime" eval --model "$out" --items 100
