//go:build openblas && cgo

/*
Copyright 2026 The dllm-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package cpu

import (
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/cpu/internal/openblas"
)

// BenchmarkOpenBLASSgemm measures OpenBLAS cblas_sgemm(RowMajor, NoTrans, Trans) on the shapes
// and thread counts of BenchmarkSgemm, under the same sub-benchmark names. hack/bench-gemm.sh
// runs both and prints the ratio.
func BenchmarkOpenBLASSgemm(b *testing.B) {
	benchSgemm(b, func(threads, m, n, k int, a, w, c []float32) {
		openblas.Sgemm(threads, m, n, k, a, k, w, k, c, n)
	})
}
