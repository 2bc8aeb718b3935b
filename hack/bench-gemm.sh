#!/usr/bin/env bash
# bench-gemm.sh compares the CPU backend's SGEMM (BenchmarkSgemm) with OpenBLAS cblas_sgemm
# (BenchmarkOpenBLASSgemm, built with -tags openblas) in one `go test` run, and prints the median
# GFLOP/s of each and their ratio per shape and thread count.
#
# OpenBLAS picks its kernels from the CPU unless OPENBLAS_CORETYPE forces a core type; the run is
# made with OPENBLAS_CORETYPE unset, and once more with the environment's value if one is set.
#
# Environment: BENCHTIME (default 2s) and COUNT (default 5) are passed to go test.
# Needs cgo (a C compiler) and libopenblas with cblas.h (Debian/Ubuntu: libopenblas-dev).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

benchtime=${BENCHTIME:-2s}
count=${COUNT:-5}
pkg=./runtime/backend/cpu

die() {
	echo "bench-gemm: $*" >&2
	exit 1
}

[[ $(go env CGO_ENABLED) == 1 ]] || die "cgo is disabled (CGO_ENABLED=0); the OpenBLAS benchmark needs it"
# Link the benchmark once up front so a missing library fails with a clear message.
if ! build_log=$(go test -tags openblas -run '^$' -count=1 -c -o /dev/null "$pkg" 2>&1); then
	echo "$build_log" >&2
	die "cannot build the OpenBLAS benchmark: is libopenblas installed with cblas.h? (Debian/Ubuntu: apt-get install libopenblas-dev)"
fi

# table reads `go test -bench` output and prints shape, threads, both medians and their ratio.
table() {
	awk '
		$1 ~ /^Benchmark(OpenBLAS)?Sgemm\// {
			for (i = 2; i <= NF; i++) if ($i == "GFLOP/s") v = $(i - 1)
			split($1, p, "/")
			sub(/-[0-9]+$/, "", p[3])
			sub(/^threads=/, "", p[3])
			who = (p[1] == "BenchmarkSgemm") ? "ours" : "openblas"
			key = p[2] " " p[3]
			if (!(key in seen)) { seen[key] = 1; order[++n] = key }
			vals[who, key] = vals[who, key] " " v
		}
		function median(s,    a, k, i, j, t) {
			k = split(s, a, " ")
			if (k == 0) return 0
			for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		END {
			printf "%-16s %-10s %12s %14s %7s\n", "shape (MxNxK)", "threads", "ours GFLOP/s", "OpenBLAS GF/s", "ratio"
			for (i = 1; i <= n; i++) {
				split(order[i], kv, " ")
				o = median(vals["ours", order[i]]); b = median(vals["openblas", order[i]])
				printf "%-16s %-10s %12.1f %14.1f %7.2f\n", kv[1], kv[2], o, b, (b > 0) ? o / b : 0
			}
		}'
}

run() { # run LABEL [env args...]
	local label=$1
	shift
	echo "== OpenBLAS core type: $label (go test -bench Sgemm -benchtime $benchtime -count $count, medians)"
	local out
	out=$(env "$@" go test -tags openblas -run '^$' -bench 'Sgemm' -benchtime "$benchtime" -count "$count" "$pkg")
	grep -E '^(goos|goarch|cpu):' <<<"$out" || true
	table <<<"$out"
	echo
}

run "auto (OPENBLAS_CORETYPE unset)" -u OPENBLAS_CORETYPE
if [[ -n ${OPENBLAS_CORETYPE:-} ]]; then
	run "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
fi
