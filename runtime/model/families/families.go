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

// Package families picks a model family's loader from a checkpoint's config: it is the one place
// that knows every family the runtime serves. It also names each family's chat end-of-turn
// token, which the samplers stop on and the tokenizer resolves to an id.
package families

import (
	"fmt"

	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/dream"
	"dllm.dev/dllm-operator/runtime/model/llada"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/weights"
)

// Load builds the model of an open checkpoint on b, by the family its config.json declares.
func Load(b tensor.Backend, ck *weights.Checkpoint) (*model.Model, error) {
	switch ck.Config.Family {
	case weights.FamilyLLaDA:
		return llada.Load(b, ck)
	case weights.FamilyDream:
		return dream.Load(b, ck)
	}
	return nil, fmt.Errorf("checkpoint %s: model family %q is not supported", ck.Dir, ck.Config.Family)
}

// EndOfTurn returns the content of family f's chat end-of-turn token, or "" for an unknown family.
func EndOfTurn(f weights.Family) string {
	switch f {
	case weights.FamilyLLaDA:
		return llada.EndOfTurn
	case weights.FamilyDream:
		return dream.EndOfTurn
	}
	return ""
}
