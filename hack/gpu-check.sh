#!/usr/bin/env bash
# gpu-check.sh checks the CUDA backend on a machine with one NVIDIA GPU, in one run of under 8
# minutes on an H100, and writes a report. CI cannot run any of it (no GPU there; it compiles the
# same code with `make check-cuda`).
#
#   1. the GPU and driver (nvidia-smi);
#   2. builds dllm-runtime and the test binaries with -tags cuda;
#   3. runs the CUDA tests: the tensor suite against float64 references, the BF16 tensor-core
#      GEMM, the backend's own checks (runtime/backend/cuda), model parity on the committed
#      PyTorch fixtures, exact and cached (runtime/parity), and cached-with-exact-settings equals
#      exact, bit for bit (runtime/model);
#   4. `dllm-runtime bench` on the GPU: the exact and the cached path on the two standard
#      workloads of hack/bench-cache.sh, beside the same on the CPU for workload a;
#   5. a LLaDA-8B-shaped random checkpoint (BF16, d_model 4096, 32 layers, MLP 12288, vocabulary
#      126 464), generated on the spot: real-size step time and the GPU memory it takes.
#
# Every step is timed and recorded, pass or fail, and the script goes on to the next where it can;
# at the end it prints the report and what it could not run, and exits non-zero if anything
# failed.
#
# Usage: hack/gpu-check.sh [REPORT]   (default: gpu-check-report.md)
# Needs: Go (go.mod's version), the NVIDIA driver, and the CUDA 11.8 headers and libraries that
# gorgonia.org/cu v0.9.6 compiles against (cuda.h, cublas_v2.h, libcublas.so.11; Debian bookworm
# non-free: nvidia-cuda-dev, libcuda1); CGO_CFLAGS/CGO_LDFLAGS may point elsewhere (for example
# -I/usr/local/cuda-11.8/include, -L/usr/local/cuda-11.8/lib64). Environment: SKIP_8B=1 skips
# step 5; BIG_TIMEOUT (seconds, default 240) bounds it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
report=$(realpath -m "${1:-gpu-check-report.md}")
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
failed=()
skipped=()

{
	echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)'), $(go version 2>/dev/null || echo 'no go')"
} >"$report"

# step NAME CMD...: runs CMD, records its time, status and the end of its output.
step() {
	local name=$1
	shift
	local start=$SECONDS
	echo "== $name" >&2
	"$@" >"$tmp/out" 2>&1
	local rc=$?
	tee -a /dev/stderr <"$tmp/out" >/dev/null
	{
		echo
		echo "## $name: $([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - start)) s"
		echo
		echo '```'
		tail -n 60 "$tmp/out"
		echo '```'
	} >>"$report"
	[[ $rc == 0 ]] || failed+=("$name")
	return $rc
}

skip() {
	skipped+=("$1: $2")
	printf '\n## %s: not run: %s\n' "$1" "$2" >>"$report"
}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
	skip "GPU" "nvidia-smi finds no GPU: nothing of this script can run here"
	cat "$report"
	exit 1
fi
step "GPU" nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv

built=0
if step "build with -tags cuda" bash -c "
	set -e
	go build -tags cuda -o '$tmp/dllm-runtime' ./cmd/dllm-runtime
	go test -tags cuda -c -o '$tmp/cuda.test' ./runtime/backend/cuda/
	go test -tags cuda -c -o '$tmp/parity.test' ./runtime/parity/
	go test -tags cuda -c -o '$tmp/model.test' ./runtime/model/
	ls -l '$tmp'"; then
	built=1
fi

if ((built)); then
	# Each test binary runs in its package's folder, where its testdata is.
	step "CUDA backend tests (runtime/backend/cuda)" bash -c "cd runtime/backend/cuda && '$tmp/cuda.test' -test.v -test.count=1 | grep -E '^(=== RUN|--- FAIL|--- PASS: Test|PASS|FAIL|ok)|_test.go|cuda:'"
	step "model parity on the fixtures (runtime/parity)" bash -c "cd runtime/parity && '$tmp/parity.test' -test.v -test.count=1 | grep -E -- '--- (FAIL|PASS).*cuda|^(PASS|FAIL)|_test.go'"
	step "cached with exact settings equals exact (runtime/model)" bash -c "cd runtime/model && '$tmp/model.test' -test.v -test.count=1 -test.run 'TestSessionExactSettingsEqualExactPath' | grep -E -- '--- (FAIL|PASS)|^(PASS|FAIL)|_test.go'"

	"$tmp/dllm-runtime" testmodel --family llada --out "$tmp/bench-model" --seed 1 \
		--d-model 512 --layers 8 --heads 8 --mlp 1536 --vocab 4096 >/dev/null
	# hack/bench-cache.sh's workloads.
	a=(--prompt-len 512 --gen-length 256 --block-length 32 --steps 256
		--cache-prompt-interval 50 --cache-response-interval 7 --cache-transfer-ratio 0.25)
	b=(--prompt-len 4096 --gen-length 32 --block-length 32 --steps 32
		--cache-prompt-interval 100 --cache-response-interval 8 --cache-transfer-ratio 0.25)
	step "bench workload a on the GPU (bf16)" "$tmp/dllm-runtime" bench --model "$tmp/bench-model" "${a[@]}" --repeats 3 --backend cuda
	step "bench workload b on the GPU (bf16)" "$tmp/dllm-runtime" bench --model "$tmp/bench-model" "${b[@]}" --repeats 3 --backend cuda
	step "bench workload a on the GPU (f32)" "$tmp/dllm-runtime" bench --model "$tmp/bench-model" "${a[@]}" --repeats 3 --backend cuda --precision f32
	step "bench workload a on the CPU, for comparison" "$tmp/dllm-runtime" bench --model "$tmp/bench-model" "${a[@]}" --repeats 1 --backend cpu

	if [[ ${SKIP_8B:-0} == 1 ]]; then
		skip "LLaDA-8B-shaped checkpoint" "SKIP_8B=1"
	else
		free_kb=$(df -Pk "$tmp" | awk 'NR==2 {print $4}')
		if ((free_kb < 20 * 1024 * 1024)); then
			skip "LLaDA-8B-shaped checkpoint" "needs 20 GB free in $tmp, has $((free_kb / 1024 / 1024)) GB"
		else
			step "write a LLaDA-8B-shaped BF16 checkpoint" "$tmp/dllm-runtime" testmodel --family llada --out "$tmp/llada8b" --seed 8 \
				--d-model 4096 --layers 32 --heads 32 --mlp 12288 --vocab 126464 --shards 4
			# Peak GPU memory: nvidia-smi sampled every half second while the bench runs.
			(while sleep 0.5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done >"$tmp/mem") &
			poller=$!
			step "LLaDA-8B-shaped step time (bf16; prompt 512, gen 64, 64 steps)" timeout "${BIG_TIMEOUT:-240}" \
				"$tmp/dllm-runtime" bench --model "$tmp/llada8b" --backend cuda --prompt-len 512 --gen-length 64 --block-length 32 \
				--steps 64 --cache-prompt-interval 50 --cache-response-interval 7 --cache-transfer-ratio 0.25 --repeats 1
			kill "$poller" 2>/dev/null
			printf '\nPeak GPU memory used during the 8B-shaped bench: %s MiB (nvidia-smi, every 0.5 s)\n' \
				"$(sort -n "$tmp/mem" | tail -n 1)" >>"$report"
		fi
	fi
else
	skip "tests and benchmarks" "the build failed"
fi

{
	echo
	echo "## Summary"
	echo
	if ((${#failed[@]})); then printf -- '- failed: %s\n' "${failed[@]}"; else echo "- every step that ran passed"; fi
	if ((${#skipped[@]})); then printf -- '- not run: %s\n' "${skipped[@]}"; fi
} >>"$report"
cat "$report"
echo "report: $report" >&2
((${#failed[@]} == 0))
