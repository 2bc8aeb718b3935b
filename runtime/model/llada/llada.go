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

// Package llada describes the LLaDA family (GSAI-ML/LLaDA-8B-Base and -Instruct): a
// bidirectional Llama-shaped network under OLMo's tensor names (model.transformer.blocks.N.*),
// with the SiLU gate called ff_proj, the up projection up_proj, the down projection ff_out and a
// separate LM head model.transformer.ff_out (dllm-cache-spec.md §3). It has no biases unless
// include_qkv_bias is set, and no logit shift. It maps a checkpoint's config to runtime/model's
// Arch and Names; the forward pass itself is runtime/model's.
package llada

import (
	"fmt"
	"strconv"

	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/weights"
)

// EndOfTurn is the chat end-of-turn token LLaDA-8B-Instruct ends an answer with (id 126348 in
// the real vocabulary); it is not in config.json, so callers look it up in the tokenizer.
const EndOfTurn = "<|eot_id|>"

// Arch returns the network shape c describes.
func Arch(c weights.Config) model.Arch { return model.ArchOf(c) }

// Names returns the checkpoint names of a LLaDA network; with tied embeddings the LM head is
// the embedding table.
func Names(c weights.Config) model.Names {
	const p = "model.transformer."
	n := model.Names{Embed: p + "wte.weight", FinalNorm: p + "ln_f.weight", Head: p + "ff_out.weight"}
	if c.TiedEmbeddings {
		n.Head = n.Embed
	}
	n.Layer = func(i int) model.LayerNames {
		b := p + "blocks." + strconv.Itoa(i) + "."
		return model.LayerNames{
			AttnNorm: b + "attn_norm.weight",
			Q:        b + "q_proj.weight", K: b + "k_proj.weight", V: b + "v_proj.weight",
			QBias: b + "q_proj.bias", KBias: b + "k_proj.bias", VBias: b + "v_proj.bias",
			O:       b + "attn_out.weight",
			FFNNorm: b + "ff_norm.weight",
			Gate:    b + "ff_proj.weight", Up: b + "up_proj.weight", Down: b + "ff_out.weight",
		}
	}
	return n
}

// Load builds a LLaDA model on b from an open checkpoint whose config is LLaDA's.
func Load(b tensor.Backend, ck *weights.Checkpoint) (*model.Model, error) {
	if ck.Config.Family != weights.FamilyLLaDA {
		return nil, fmt.Errorf("llada: checkpoint %s is a %s model", ck.Dir, ck.Config.Family)
	}
	m, err := model.Load(b, ck, Arch(ck.Config), Names(ck.Config))
	if err != nil {
		return nil, fmt.Errorf("llada: %w", err)
	}
	return m, nil
}
