#!/usr/bin/env bash
# train.sh trains the tiny task model: a LLaDA-architecture network (by default d_model 128,
# 4 layers, 4 heads, MLP 384; the runtime's byte-level test tokenizer) on training items of the
# task suite and its practice tasks (runtime/tasks), with LLaDA's masked-diffusion objective, on
# the CPU. Run once by a developer, not by CI; seeded, and every stage is counted in steps (the
# numbers are bit-identical only with the same PyTorch, BLAS and thread count). Then it scores
# the result on held-out items.
#
# Four stages, each starting from the previous one's weights. Retrieval needs a two-step lookup
# (the question's key found by content, its value read two tokens on) that sits on a long
# plateau at chance, is learned only on lists of a few pairs, and is washed out again if longer
# lists or other tasks come too soon:
#   1. retrieve-short alone on its shortest prompts (2 to 4 pairs), the learning rate near its
#      peak, until its loss is below 0.03, well off the plateau (about 5 600 steps; at most
#      8 000);
#   2. retrieve-short, its lists growing slowly (2 200 steps);
#   3. retrieve-short and full-length retrieve (3 500 steps);
#   4. every task (STEPS, default 8 000).
#
# Usage: hack/train-tiny/train.sh OUT_DIR
# Environment: STEPS (stage 4's steps, default 8000), INIT (a checkpoint folder to start stage 4
# from, skipping stages 1 to 3), WORK (a folder that keeps each stage's checkpoint, to resume
# from with INIT; default a temporary one), DEVICE (torch device, default cpu), THREADS (torch and
# OpenBLAS threads, default 1), SEED (default 1), LR (peak learning rate, default 1e-3), ROPE_THETA
# (default 10000), SIZE (testmodel size flags, default "--d-model 128 --layers 4 --heads 4
# --mlp 384"), WEIGHTS (how often each task's batches are drawn in stage 4), PYTHON (an
# interpreter with python3-torch and python3-numpy, default /usr/bin/python3, which also needs
# an optimised BLAS: libopenblas0-pthread).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

out=${1:?usage: train.sh OUT_DIR}
steps=${STEPS:-8000}
seed=${SEED:-1}
lr=${LR:-1e-3}
read -r -a size <<<"${SIZE:---d-model 128 --layers 4 --heads 4 --mlp 384}"
weights=${WEIGHTS:-copy=1,reverse=1,sort=0.5,add=0.2,count=0.2,retrieve=0.5,retrieve-short=0.5}
python=${PYTHON:-/usr/bin/python3}
# The model's matrices are small: on 2 cores, a second thread made stage 1's steps twice as
# slow (0.45 s instead of 0.23 s), the threads spinning in the kernel.
threads=${THREADS:-1}
export OPENBLAS_NUM_THREADS=$threads
# Debian's python3-torch calls whatever libblas.so.3 the alternatives system points at; with
# only libblas3 installed that is the unoptimised reference BLAS, and a training step takes
# about 15 times longer (2.4 s instead of 0.15 s for one forward pass of 64 short items).
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
if [[ $python == /usr/bin/python3 && -n $blas && $blas != *openblas* && $blas != *blis* && $blas != *mkl* ]]; then
	echo "train.sh: libblas.so.3 is $blas, the reference BLAS: training would be about 15 times slower;" >&2
	echo "          apt-get install libopenblas0-pthread (or set PYTHON to an interpreter with an optimised torch)" >&2
	exit 1
fi
tmp=${WORK:-}
if [[ -z $tmp ]]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
fi
mkdir -p "$tmp"

go build -o "$tmp/dllm-runtime" ./cmd/dllm-runtime
# The base folder fixes the architecture, sizes, special ids and tokenizer; its random
# weights are not used.
"$tmp/dllm-runtime" testmodel --family llada --out "$tmp/base" --seed "$seed" "${size[@]}" >/dev/null
common=(--base "$tmp/base" --runtime "$tmp/dllm-runtime" --lr "$lr" --rope-theta "${ROPE_THETA:-10000}"
	--device "${DEVICE:-cpu}" --threads "$threads" --save-every 500)
train() { "$python" hack/train-tiny/train.py "${common[@]}" "$@"; }

init=${INIT:-}
if [[ -z $init ]]; then
	# --curriculum 100 keeps the curriculum share at its 5 % floor: only the shortest lists.
	# The first 8 000 steps of a 20 000-step cosine keep the learning rate above 0.69 x peak.
	train --tasks retrieve-short --weights retrieve-short=1 --out "$tmp/stage1" --seed "$seed" \
		--steps 20000 --stop-after 8000 --stop-loss 0.03 --curriculum 100
	train --init "$tmp/stage1" --tasks retrieve-short --weights retrieve-short=1 --out "$tmp/stage2" --seed "$seed" \
		--steps 2200 --curriculum 4
	train --init "$tmp/stage2" --tasks retrieve-short,retrieve --weights retrieve-short=1,retrieve=0.3 \
		--out "$tmp/stage3" --seed $((seed + 1)) --steps 3500 --curriculum 1.2
fi
train --init "${init:-$tmp/stage3}" --tasks all,retrieve-short --weights "$weights" --out "$out" --seed $((seed + 2)) \
	--steps "$steps" --curriculum 0
if [[ -z $init ]]; then
	for n in 1 2 3; do
		cp "$tmp/stage$n/train.json" "$out/train-stage$n.json"
	done
fi
"$tmp/dllm-runtime" eval --model "$out" --items 100
