#!/usr/bin/env bash
# Copyright 2026 The dllm-operator Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# gen.sh compiles the CUDA backend's kernels (all.cu, which includes every kernels/*.cu) to
# PTX for compute_80 (Ampere) and compute_90 (Hopper): ../kernels_sm80.ptx and
# ../kernels_sm90.ptx, which are committed and embedded by the Go package, so building the
# runtime does not need nvcc. Run it through `go generate` in runtime/backend/cuda (build tag
# cuda) or directly; it works from any directory.
#
# It runs nvcc from this directory with relative paths and without -lineinfo, so the PTX
# holds no file paths and is the same on every machine with the same nvcc. No fast-math
# flags: the kernels rely on IEEE float32 division, square root and expf.
#
# Environment: NVCC (default: nvcc on PATH) names the compiler; NVCC_CCBIN, if set, is passed
# as -ccbin (Debian's nvidia-cuda-toolkit already picks its supported g++ itself); OUT_DIR
# (default: runtime/backend/cuda) is where the PTX goes, so hack/check-cuda.sh can compare a
# fresh build with the committed files.
set -euo pipefail

NVCC="${NVCC:-nvcc}"
if ! command -v "$NVCC" >/dev/null 2>&1; then
	echo "gen.sh: $NVCC not found: install the CUDA toolkit (Debian non-free: nvidia-cuda-toolkit, CUDA 11.8) or set NVCC" >&2
	exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")"
out_dir="$(cd "${OUT_DIR:-..}" && pwd)"

flags=(-ptx -O3 -std=c++14)
if [[ -n "${NVCC_CCBIN:-}" ]]; then
	flags+=(-ccbin "$NVCC_CCBIN")
fi

for sm in 80 90; do
	out="$out_dir/kernels_sm${sm}.ptx"
	tmp="$(mktemp "$out_dir/.kernels_sm${sm}.ptx.XXXXXX")"
	trap 'rm -f "$tmp"' EXIT
	if ! "$NVCC" "${flags[@]}" -arch="compute_${sm}" all.cu -o "$tmp"; then
		echo "gen.sh: nvcc failed for compute_${sm}" >&2
		exit 1
	fi
	for kernel in add_f32 add_bias_f32 rmsnorm_f32 rope_f32 attention_f32 silu_mul_f32 \
		softmax_f32 gather_f32 scatter_f32 cosine_f32 f32_to_bf16 bf16_to_f32; do
		if ! grep -q "^\.visible \.entry ${kernel}(" "$tmp"; then
			echo "gen.sh: kernel ${kernel} missing from compute_${sm} PTX" >&2
			exit 1
		fi
	done
	chmod 0644 "$tmp"
	mv -f "$tmp" "$out"
	trap - EXIT
	echo "gen.sh: wrote $out ($(wc -c <"$out") bytes)"
done
