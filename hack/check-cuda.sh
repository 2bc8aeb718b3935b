#!/usr/bin/env bash
# check-cuda.sh checks the CUDA build on a machine without a GPU, which is all CI can do: it
# builds and vets everything with the cuda tag, lints the packages the tag adds, compiles every
# test binary (a binary built with the tag exits at start-up without a GPU, so none is run), and,
# when nvcc is installed, regenerates the kernels' PTX and fails if it differs from the
# committed files. It needs the CUDA 11.8 headers and libraries (Debian bookworm non-free:
# nvidia-cuda-dev, libcuda1; nvidia-cuda-toolkit for nvcc); .ci/run installs them.
#
# On a machine with a GPU, hack/gpu-check.sh runs the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}

if [[ ! -f /usr/include/cuda.h && ! -f /usr/local/cuda/include/cuda.h ]]; then
	echo "check-cuda.sh: no CUDA headers (cuda.h): install nvidia-cuda-dev and libcuda1 from Debian's non-free packages" >&2
	exit 1
fi

echo "go build -tags cuda ./..."
"$GO" build -tags cuda ./...
echo "go vet -tags cuda ./..."
"$GO" vet -tags cuda ./...
echo "golangci-lint --build-tags cuda (the packages the tag changes)"
"$GO" tool -modfile=hack/tools/go.mod golangci-lint run --build-tags cuda \
	./runtime/backend/cuda/... ./runtime/backend/backendtest/... ./cmd/dllm-runtime/...

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The tag changes only the runtime's packages (the operator never links a backend): compile
# each of their test binaries, named after its import path (two packages may share a name).
echo "go test -tags cuda -c (every runtime test binary; running them needs a GPU)"
mkdir "$tmp/tests"
for pkg in $("$GO" list -tags cuda -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./runtime/... ./cmd/dllm-runtime/); do
	"$GO" test -tags cuda -c -o "$tmp/tests/$(echo "${pkg#dllm.dev/dllm-operator/}" | tr / _).test" "$pkg"
done
ls "$tmp/tests" | sed 's/^/  /'

if command -v "${NVCC:-nvcc}" >/dev/null 2>&1; then
	mkdir "$tmp/ptx"
	OUT_DIR="$tmp/ptx" bash runtime/backend/cuda/kernels/gen.sh
	for f in kernels_sm80.ptx kernels_sm90.ptx; do
		if ! cmp -s "$tmp/ptx/$f" "runtime/backend/cuda/$f"; then
			echo "check-cuda.sh: runtime/backend/cuda/$f is stale: run go generate -tags cuda ./runtime/backend/cuda/ and commit" >&2
			exit 1
		fi
	done
	echo "the committed PTX matches the kernels"
else
	echo "check-cuda.sh: nvcc not installed: the committed PTX was not compared with the kernels (install nvidia-cuda-toolkit)"
fi
