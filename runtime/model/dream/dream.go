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

// Package dream describes the Dream family (Dream-org/Dream-v0-Base-7B and -Instruct-7B): Qwen2.5
// weights run bidirectionally, under Qwen2's tensor names (model.layers.N.self_attn.*, mlp.*),
// with grouped-query attention, q/k/v biases, a separate lm_head and the one-position logit
// shift the model keeps from its autoregressive initialisation (dllm-cache-spec.md §4). It maps a
// checkpoint's config to runtime/model's Arch and Names; the forward pass itself is
// runtime/model's.
//
// RoPE: Dream's reference (HF-Llama code) casts the fp32 cos/sin tables to the activation dtype
// before multiplying. The runtime computes activations in F32, where that cast is the identity.
package dream

import (
	"fmt"
	"strconv"

	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/weights"
)

// EndOfTurn is the ChatML end-of-turn token Dream-Instruct ends an answer with (id 151645 in the
// real vocabulary); callers look it up in the tokenizer.
const EndOfTurn = "<|im_end|>"

// Arch returns the network shape c describes.
func Arch(c weights.Config) model.Arch {
	a := model.ArchOf(c)
	a.ShiftLogits = true
	return a
}

// Names returns the checkpoint names of a Dream network; with tied embeddings the LM head is
// the embedding table.
func Names(c weights.Config) model.Names {
	n := model.Names{Embed: "model.embed_tokens.weight", FinalNorm: "model.norm.weight", Head: "lm_head.weight"}
	if c.TiedEmbeddings {
		n.Head = n.Embed
	}
	n.Layer = func(i int) model.LayerNames {
		b := "model.layers." + strconv.Itoa(i) + "."
		a := b + "self_attn."
		return model.LayerNames{
			AttnNorm: b + "input_layernorm.weight",
			Q:        a + "q_proj.weight", K: a + "k_proj.weight", V: a + "v_proj.weight",
			QBias: a + "q_proj.bias", KBias: a + "k_proj.bias", VBias: a + "v_proj.bias",
			O:       a + "o_proj.weight",
			FFNNorm: b + "post_attention_layernorm.weight",
			Gate:    b + "mlp.gate_proj.weight", Up: b + "mlp.up_proj.weight", Down: b + "mlp.down_proj.weight",
		}
	}
	return n
}

// Load builds a Dream model on b from an open checkpoint whose config is Dream's.
func Load(b tensor.Backend, ck *weights.Checkpoint) (*model.Model, error) {
	if ck.Config.Family != weights.FamilyDream {
		return nil, fmt.Errorf("dream: checkpoint %s is a %s model", ck.Dir, ck.Config.Family)
	}
	m, err := model.Load(b, ck, Arch(ck.Config), Names(ck.Config))
	if err != nil {
		return nil, fmt.Errorf("dream: %w", err)
	}
	return m, nil
}
