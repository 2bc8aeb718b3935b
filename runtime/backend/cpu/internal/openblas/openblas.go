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

package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

// Sgemm computes c (m×n, row stride ldc) = a (m×k, row stride lda) · bᵀ (b n×k, row stride
// ldb) with cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans) on threads OpenBLAS threads.
// The caller checks that the slices hold the matrices and that m, n and k are positive.
func Sgemm(threads, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	C.openblas_set_num_threads(C.int(threads))
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		0, (*C.float)(&c[0]), C.blasint(ldc))
}
