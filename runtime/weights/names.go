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

package weights

import "strconv"

// TensorSpec is a tensor a config implies: its checkpoint name and shape.
type TensorSpec struct {
	// Name is the tensor's name in the checkpoint.
	Name string
	// Shape is the shape, outermost first ([out, in] for Linear weights).
	Shape []int
}

// Expected returns the tensors a checkpoint with config c must hold, with their shapes, in
// a fixed order: embedding, then each block, then the final norm and the LM head.
//
// LLaDA (OLMo names, prefix model.transformer.):
//
//	wte.weight                               [V, D]
//	blocks.N.{attn_norm,ff_norm}.weight      [D]
//	blocks.N.q_proj.weight                   [H*Dh, D]     (.bias [H*Dh] with include_qkv_bias)
//	blocks.N.{k_proj,v_proj}.weight          [KV*Dh, D]    (.bias [KV*Dh] with include_qkv_bias)
//	blocks.N.attn_out.weight                 [D, H*Dh]
//	blocks.N.{ff_proj,up_proj}.weight        [I, D]        (ff_proj is the SiLU gate)
//	blocks.N.ff_out.weight                   [D, I]
//	ln_f.weight                              [D]
//	ff_out.weight                            [V, D]        (LM head, absent with weight_tying)
//
// Dream (Qwen2 names):
//
//	model.embed_tokens.weight                                   [V, D]
//	model.layers.N.{input_layernorm,post_attention_layernorm}.weight [D]
//	model.layers.N.self_attn.q_proj.{weight,bias}               [H*Dh, D], [H*Dh]
//	model.layers.N.self_attn.{k_proj,v_proj}.{weight,bias}      [KV*Dh, D], [KV*Dh]
//	model.layers.N.self_attn.o_proj.weight                      [D, H*Dh]
//	model.layers.N.mlp.{gate_proj,up_proj}.weight               [I, D]
//	model.layers.N.mlp.down_proj.weight                         [D, I]
//	model.norm.weight                                           [D]
//	lm_head.weight                                              [V, D] (absent when tied)
//
// It returns the error of [Config.Validate] when c is invalid.
func Expected(c Config) ([]TensorSpec, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var (
		d, v, i = c.Hidden, c.Vocab, c.Intermediate
		q       = c.Heads * c.HeadDim
		kv      = c.KVHeads * c.HeadDim
	)
	specs := make([]TensorSpec, 0, 3+c.Layers*12)
	add := func(name string, shape ...int) {
		specs = append(specs, TensorSpec{Name: name, Shape: shape})
	}
	switch c.Family {
	case FamilyLLaDA:
		const p = "model.transformer."
		add(p+"wte.weight", v, d)
		for n := range c.Layers {
			b := p + "blocks." + strconv.Itoa(n) + "."
			add(b+"attn_norm.weight", d)
			add(b+"q_proj.weight", q, d)
			add(b+"k_proj.weight", kv, d)
			add(b+"v_proj.weight", kv, d)
			if c.QKVBias {
				add(b+"q_proj.bias", q)
				add(b+"k_proj.bias", kv)
				add(b+"v_proj.bias", kv)
			}
			add(b+"attn_out.weight", d, q)
			add(b+"ff_norm.weight", d)
			add(b+"ff_proj.weight", i, d)
			add(b+"up_proj.weight", i, d)
			add(b+"ff_out.weight", d, i)
		}
		add(p+"ln_f.weight", d)
		if !c.TiedEmbeddings {
			add(p+"ff_out.weight", v, d)
		}
	case FamilyDream:
		add("model.embed_tokens.weight", v, d)
		for n := range c.Layers {
			b := "model.layers." + strconv.Itoa(n) + "."
			add(b+"input_layernorm.weight", d)
			add(b+"self_attn.q_proj.weight", q, d)
			add(b+"self_attn.k_proj.weight", kv, d)
			add(b+"self_attn.v_proj.weight", kv, d)
			if c.QKVBias {
				add(b+"self_attn.q_proj.bias", q)
				add(b+"self_attn.k_proj.bias", kv)
				add(b+"self_attn.v_proj.bias", kv)
			}
			add(b+"self_attn.o_proj.weight", d, q)
			add(b+"post_attention_layernorm.weight", d)
			add(b+"mlp.gate_proj.weight", i, d)
			add(b+"mlp.up_proj.weight", i, d)
			add(b+"mlp.down_proj.weight", d, i)
		}
		add("model.norm.weight", d)
		if !c.TiedEmbeddings {
			add("lm_head.weight", v, d)
		}
	}
	return specs, nil
}
