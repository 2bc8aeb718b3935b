#!/usr/bin/env bash
# bench-cache.sh runs `dllm-runtime bench` (the exact and the dLLM-Cache path back to back in one
# process) on the two standard workloads, on a seeded LLaDA-shaped checkpoint (d_model 512,
# 8 layers, 8 heads, MLP 1536, vocabulary 4096) that it writes with `dllm-runtime testmodel`:
#   (a) GSM8K-like:    prompt 512,  gen 256, block 32, steps 256, K_p 50,  K_r 7, rho 0.25
#   (b) HotpotQA-like: prompt 4096, gen 32,  block 32, steps 32,  K_p 100, K_r 8, rho 0.25
# Each prints the FLOPs reduction, the wall-clock speedup (min/median/max over REPEATS) and
# speedup / FLOPs reduction. Environment: REPEATS (default 3), WORKLOADS (default "a b").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

repeats=${REPEATS:-3}
workloads=${WORKLOADS:-a b}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/dllm-runtime" ./cmd/dllm-runtime
"$tmp/dllm-runtime" testmodel --family llada --out "$tmp/model" --seed 1 \
	--d-model 512 --layers 8 --heads 8 --mlp 1536 --vocab 4096 >/dev/null

for w in $workloads; do
	case $w in
	a) args=(--prompt-len 512 --gen-length 256 --block-length 32 --steps 256
		--cache-prompt-interval 50 --cache-response-interval 7 --cache-transfer-ratio 0.25) ;;
	b) args=(--prompt-len 4096 --gen-length 32 --block-length 32 --steps 32
		--cache-prompt-interval 100 --cache-response-interval 8 --cache-transfer-ratio 0.25) ;;
	*) echo "bench-cache: unknown workload $w (a or b)" >&2; exit 2 ;;
	esac
	echo "== workload $w"
	"$tmp/dllm-runtime" bench --model "$tmp/model" "${args[@]}" --repeats "$repeats"
done
