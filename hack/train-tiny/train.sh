#!/usr/bin/env bash
# train.sh trains the tiny task model: a LLaDA-architecture network (by default d_model 128,
# 4 layers, 4 heads, MLP 384; the runtime's byte-level test tokenizer) on training items of the
# task suite and its practice tasks (runtime/tasks), with LLaDA's masked-diffusion objective, on
# the CPU. Run once by a developer, not by CI; seeded. Then it scores the result on held-out items.
#
# Usage: hack/train-tiny/train.sh OUT_DIR
# Environment: MINUTES (training time, default 50), STEPS (train this many steps instead of for
# MINUTES: the same run on any machine), INIT (a checkpoint folder to start from, for staged
# training), DEVICE (torch device, default cpu), SEED (default 1), LR (peak learning rate,
# default 1e-3), ROPE_THETA (default 10000), CURRICULUM (training share after which the longest
# prompts are drawn, default 0.5), SIZE (testmodel size flags, default "--d-model 128 --layers 4 --heads 4
# --mlp 384"), TASKS (tasks trained on), WEIGHTS (how often each task's batches are drawn),
# PYTHON (an interpreter with python3-torch and python3-numpy, default /usr/bin/python3, which
# also needs an optimised BLAS: libopenblas0-pthread).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

out=${1:?usage: train.sh OUT_DIR}
minutes=${MINUTES:-50}
extra=()
[[ -n ${STEPS:-} ]] && extra+=(--steps "$STEPS")
[[ -n ${INIT:-} ]] && extra+=(--init "$INIT")
seed=${SEED:-1}
lr=${LR:-1e-3}
read -r -a size <<<"${SIZE:---d-model 128 --layers 4 --heads 4 --mlp 384}"
# Retrieval's practice tasks: short lists, and recite's many lookups per item.
task_names=${TASKS:-all,retrieve-short,recite}
weights=${WEIGHTS:-copy=1,reverse=1,sort=0.5,add=0.5,count=0.5,retrieve=0.3,retrieve-short=1,recite=1}
python=${PYTHON:-/usr/bin/python3}
# Debian's python3-torch calls whatever libblas.so.3 the alternatives system points at; with
# only libblas3 installed that is the unoptimised reference BLAS, and a training step takes
# about 15 times longer (2.4 s instead of 0.15 s for one forward pass of 64 short items).
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
if [[ $python == /usr/bin/python3 && -n $blas && $blas != *openblas* && $blas != *blis* && $blas != *mkl* ]]; then
	echo "train.sh: libblas.so.3 is $blas, the reference BLAS: training would be about 15 times slower;" >&2
	echo "          apt-get install libopenblas0-pthread (or set PYTHON to an interpreter with an optimised torch)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/dllm-runtime" ./cmd/dllm-runtime
# The base folder fixes the architecture, sizes, special ids and tokenizer; its random
# weights are not used.
"$tmp/dllm-runtime" testmodel --family llada --out "$tmp/base" --seed "$seed" "${size[@]}" >/dev/null
"$python" hack/train-tiny/train.py --base "$tmp/base" --runtime "$tmp/dllm-runtime" --tasks "$task_names" --out "$out" \
	--minutes "$minutes" --seed "$seed" --lr "$lr" --weights "$weights" \
	--rope-theta "${ROPE_THETA:-10000}" --curriculum "${CURRICULUM:-0.5}" --save-every 500 --device "${DEVICE:-cpu}" "${extra[@]}"
"$tmp/dllm-runtime" eval --model "$out" --items 100
