//go:build cuda

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

package backendtest

import (
	"sync"
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/cuda"
	"dllm.dev/dllm-operator/runtime/tensor"
)

var (
	gpuOnce sync.Once
	gpu     *cuda.Backend
	gpuErr  error
)

// devices returns the CUDA backend on GPU 0 in F32 precision, opened once per test binary (a
// context and its module load take a while) and never closed: the process exit frees it.
func devices(tb testing.TB) []tensor.Backend {
	tb.Helper()
	gpuOnce.Do(func() { gpu, gpuErr = cuda.New(cuda.WithPrecision(cuda.PrecisionF32)) })
	if gpuErr != nil {
		tb.Fatalf("open the CUDA backend: %v", gpuErr)
	}
	return []tensor.Backend{gpu}
}
