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

// Package backendtest owns the list of backends the model-level tests (runtime/parity,
// runtime/model) run on: the CPU reference and the fast CPU backend always, and the CUDA
// backend, in its F32 parity precision, in a test binary built with -tags cuda (which runs only
// on a machine with a GPU).
package backendtest

import (
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/tensor"
)

// Backends returns every backend this test binary can run on.
func Backends(tb testing.TB) []tensor.Backend {
	tb.Helper()
	return append([]tensor.Backend{cpu.NewReference(), cpu.New()}, devices(tb)...)
}
