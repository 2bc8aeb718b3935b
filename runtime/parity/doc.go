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

// Package parity holds the runtime's parity tests against an independent reference: fixtures
// that hack/parity/reference.py (PyTorch, written from dllm-cache-spec.md, not from this code)
// computed on tiny checkpoints written by runtime/testmodel. The tests rebuild the same
// checkpoints, check that their bytes are the ones the fixtures were made from, and compare
// per-layer hidden states, logits, the samplers' transfer schedules and generated ids.
//
// The package has no non-test code besides this comment. Regenerate the fixtures with
// hack/parity/regen.sh after a deliberate change to runtime/testmodel's output.
package parity
