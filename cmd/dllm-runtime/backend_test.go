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
	"testing"

	"dllm.dev/dllm-operator/runtime/contract"
)

func TestConfigBackend(t *testing.T) {
	for _, c := range []struct {
		backend, dtype  string
		kind, precision string
		wantErr         bool
	}{
		{contract.BackendCPU, contract.DTypeBFloat16, backendCPU, precisionF32, false},
		{contract.BackendCPU, contract.DTypeFloat16, backendCPU, precisionF32, false},
		{contract.BackendCUDA, contract.DTypeBFloat16, backendCUDA, precisionBF16, false},
		{contract.BackendCUDA, contract.DTypeFloat32, backendCUDA, precisionF32, false},
		{contract.BackendCUDA, contract.DTypeFloat16, "", "", true},
	} {
		kind, precision, err := configBackend(contract.ModelConfig{Backend: c.backend, DType: c.dtype})
		if kind != c.kind || precision != c.precision || (err != nil) != c.wantErr {
			t.Errorf("configBackend(%s, %s) = %q, %q, %v; want %q, %q, error %v",
				c.backend, c.dtype, kind, precision, err, c.kind, c.precision, c.wantErr)
		}
	}
	if _, _, err := openBackend("tpu", precisionBF16, 1); err == nil {
		t.Error("openBackend(tpu) succeeded")
	}
	if _, _, err := openBackend(backendCUDA, "fp8", 1); err == nil {
		t.Error("openBackend(cuda, fp8) succeeded")
	}
}
