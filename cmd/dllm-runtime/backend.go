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
	"errors"
	"flag"
	"fmt"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/tensor"
)

// Backend and precision names on the command line.
const (
	backendCPU    = "cpu"
	backendCUDA   = "cuda"
	precisionBF16 = "bf16"
	precisionF32  = "f32"
)

// errNoCUDA is what asking for the CUDA backend gets from a binary built without it.
var errNoCUDA = errors.New("the CUDA backend is not in this binary: build dllm-runtime with -tags cuda (see runtime/backend/cuda)")

// backendFlags choose the backend of the commands that run a model.
type backendFlags struct {
	backend, precision string
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.backend, "backend", backendCPU, "Backend: cpu, or cuda in a binary built with -tags cuda.")
	fs.StringVar(&b.precision, "precision", precisionBF16,
		"CUDA weight precision: bf16 (tensor cores, what pods run) or f32 (the parity mode); the CPU computes in f32.")
}

// openBackend returns the backend a command runs on and the function that releases it.
func openBackend(kind, precision string, threads int) (tensor.Backend, func(), error) {
	switch kind {
	case backendCPU:
		return cpu.New(cpu.WithThreads(threads)), func() {}, nil
	case backendCUDA:
		if precision != precisionBF16 && precision != precisionF32 {
			return nil, nil, fmt.Errorf("--precision %q: want %s or %s", precision, precisionBF16, precisionF32)
		}
		return openCUDA(precision)
	}
	return nil, nil, fmt.Errorf("--backend %q: want %s or %s", kind, backendCPU, backendCUDA)
}

// configBackend maps the runtime config's model.backend and model.dtype to openBackend's
// arguments.
func configBackend(m contract.ModelConfig) (kind, precision string, err error) {
	if m.Backend == contract.BackendCPU {
		return backendCPU, precisionF32, nil
	}
	switch m.DType {
	case contract.DTypeBFloat16:
		return backendCUDA, precisionBF16, nil
	case contract.DTypeFloat32:
		return backendCUDA, precisionF32, nil
	}
	return "", "", fmt.Errorf("model.dtype %s: the %s backend computes in %s or %s",
		m.DType, contract.BackendCUDA, contract.DTypeBFloat16, contract.DTypeFloat32)
}
