#!/usr/bin/env bash
# Regenerates the parity fixtures runtime/parity/testdata/{llada,dream}.json and the dLLM-Cache
# fixtures runtime/parity/testdata/{llada,dream}-cache.json: builds the two tiny test checkpoints
# with the project's testmodel command and runs the independent PyTorch reference
# (hack/parity/reference.py) on each, once uncached and once with --cache. Deterministic: the
# same flags give byte-identical checkpoints, and the reference's prompt searches are seeded.
#
# Usage (from anywhere):  hack/parity/regen.sh
# Needs Go and Debian's /usr/bin/python3 with python3-torch (1.13) and python3-numpy.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

PYTHON="${PYTHON:-/usr/bin/python3}"
if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
	echo "regen.sh: $PYTHON cannot import torch and numpy; install Debian's python3-torch and python3-numpy" >&2
	echo "          (apt-get install python3-torch python3-numpy), or set PYTHON to an interpreter that has them." >&2
	exit 1
fi

out="runtime/parity/testdata"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Checkpoint flags; reference.py records them in the fixture so the Go test can rebuild the
# identical checkpoint. Keep the two lists of each family in sync.
llada_flags=(--seed 1 --layers 3 --d-model 64 --heads 4 --kv-heads 4 --mlp 128 --vocab 320)
dream_flags=(--seed 2 --layers 3 --d-model 64 --heads 4 --kv-heads 2 --mlp 128 --vocab 320)

go run ./cmd/dllm-runtime testmodel --family llada --out "$tmp/llada" "${llada_flags[@]}"
go run ./cmd/dllm-runtime testmodel --family dream --out "$tmp/dream" "${dream_flags[@]}"

"$PYTHON" hack/parity/reference.py --checkpoint "$tmp/llada" --family llada "${llada_flags[@]}" --out "$out/llada.json"
"$PYTHON" hack/parity/reference.py --checkpoint "$tmp/dream" --family dream "${dream_flags[@]}" --out "$out/dream.json"

# dLLM-Cache fixtures on the same checkpoints; the K_p = K_r = 1 case is checked against the
# uncached fixture written just above.
"$PYTHON" hack/parity/reference.py --checkpoint "$tmp/llada" --family llada "${llada_flags[@]}" --cache \
	--uncached-fixture "$out/llada.json" --out "$out/llada-cache.json"
"$PYTHON" hack/parity/reference.py --checkpoint "$tmp/dream" --family dream "${dream_flags[@]}" --cache \
	--uncached-fixture "$out/dream.json" --out "$out/dream-cache.json"

ls -l "$out"/llada.json "$out"/dream.json "$out"/llada-cache.json "$out"/dream-cache.json
