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

package main

import (
	"dllm.dev/dllm-operator/runtime/backend/cuda"
	"dllm.dev/dllm-operator/runtime/tensor"
)

// cudaBuilt reports whether this binary has the CUDA backend.
const cudaBuilt = true

// openCUDA opens GPU 0 with the given weight precision.
func openCUDA(precision string) (tensor.Backend, func(), error) {
	p := cuda.PrecisionBF16
	if precision == precisionF32 {
		p = cuda.PrecisionF32
	}
	b, err := cuda.New(cuda.WithPrecision(p))
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = b.Close() }, nil
}
