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

package testmodel

import (
	"fmt"
	"strings"
)

// Families accepted by [Options.Family].
const (
	// FamilyLLaDA writes a LLaDA checkpoint (OLMo names, model_type "llada").
	FamilyLLaDA = "llada"
	// FamilyDream writes a Dream checkpoint (Qwen2 names, model_type "Dream").
	FamilyDream = "dream"
)

// Defaults of the Options fields that are left zero.
const (
	DefaultDModel = 64
	DefaultLayers = 2
	DefaultHeads  = 4
	DefaultMLP    = 128
	// DefaultVocab leaves room above the largest tokenizer (256 bytes, the merges and six
	// special tokens), as the real models pad their embedding tables.
	DefaultVocab  = 320
	DefaultShards = 1
)

// maxParams bounds the size of a test model: 2^28 parameters are 512 MiB of BF16.
const maxParams = 1 << 28

// maxDim bounds each size option, so that the parameter count cannot overflow an int64.
const maxDim = 1 << 20

// Options describes the model to write. Zero sizes take the defaults; the errors of
// [Options.Validate] name each field the way the dllm-runtime testmodel command spells its
// flag (d-model, kv-heads, ...).
type Options struct {
	// Family is "llada" or "dream" (case-insensitive).
	Family string
	// Seed seeds the weights; the same Options give byte-identical files.
	Seed int64
	// DModel is the model width D (d_model, hidden_size); default 64.
	DModel int
	// Layers is the number of transformer blocks; default 2.
	Layers int
	// Heads is the number of query heads; it divides DModel with an even quotient (RoPE
	// rotates halves of each head). Default 4.
	Heads int
	// KVHeads is the number of key/value heads; it divides Heads. Default: Heads for LLaDA
	// (multi-head attention, as LLaDA 8B), half of Heads for Dream when Heads is even
	// (grouped-query attention, as Dream 7B), else Heads.
	KVHeads int
	// MLP is the MLP width I (mlp_hidden_size, intermediate_size); default 128.
	MLP int
	// Vocab is the number of embedding and LM head rows (vocab_size); at least the
	// tokenizer's size. Default 320.
	Vocab int
	// Shards is the number of safetensors files: 1 writes model.safetensors, more write
	// model-0000N-of-0000M.safetensors and model.safetensors.index.json. Default 1.
	Shards int
}

// withDefaults returns o with its zero fields set to their defaults and Family lowercased.
func (o Options) withDefaults() Options {
	o.Family = strings.ToLower(o.Family)
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.DModel, DefaultDModel)
	def(&o.Layers, DefaultLayers)
	def(&o.Heads, DefaultHeads)
	def(&o.MLP, DefaultMLP)
	def(&o.Vocab, DefaultVocab)
	def(&o.Shards, DefaultShards)
	if o.KVHeads == 0 {
		o.KVHeads = o.Heads
		if o.Family == FamilyDream && o.Heads%2 == 0 {
			o.KVHeads = o.Heads / 2
		}
	}
	return o
}

// Validate reports whether o, with its defaults applied, describes a model Write can write.
// Its errors name the field as the command's flag does.
func (o Options) Validate() error {
	_, err := o.resolve()
	return err
}

// resolve applies the defaults and validates the result.
func (o Options) resolve() (Options, error) {
	o = o.withDefaults()
	if o.Family != FamilyLLaDA && o.Family != FamilyDream {
		return o, fmt.Errorf("family: %q unsupported, want %q or %q", o.Family, FamilyLLaDA, FamilyDream)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"d-model", o.DModel}, {"layers", o.Layers}, {"heads", o.Heads}, {"kv-heads", o.KVHeads},
		{"mlp", o.MLP}, {"vocab", o.Vocab}, {"shards", o.Shards},
	} {
		if f.v < 0 || f.v > maxDim {
			return o, fmt.Errorf("%s: %d out of range, want 1 to %d (0 picks the default)", f.name, f.v, maxDim)
		}
	}
	switch {
	case o.DModel%o.Heads != 0:
		return o, fmt.Errorf("heads: %d does not divide d-model %d", o.Heads, o.DModel)
	case (o.DModel/o.Heads)%2 != 0:
		return o, fmt.Errorf("heads: head dimension d-model/heads = %d/%d = %d is odd, RoPE needs it even",
			o.DModel, o.Heads, o.DModel/o.Heads)
	case o.Heads%o.KVHeads != 0:
		return o, fmt.Errorf("kv-heads: %d does not divide heads %d", o.KVHeads, o.Heads)
	}
	tok := newVocab(o.Family)
	if o.Vocab < tok.size() {
		return o, fmt.Errorf("vocab: %d is smaller than the tokenizer's %d tokens (256 bytes, %d merges, %d special tokens)",
			o.Vocab, tok.size(), len(merges), len(tok.specials))
	}
	// Per block: q and o are D×D, k and v D×(KV·Dh), the MLP 3·D×I; plus embedding and head.
	d, kv, layers := int64(o.DModel), int64(o.KVHeads*(o.DModel/o.Heads)), int64(o.Layers)
	params := layers*(2*d*d+2*d*kv+3*d*int64(o.MLP)) + 2*int64(o.Vocab)*d
	if params > maxParams {
		return o, fmt.Errorf("the model would have %d parameters, more than the %d a test model may have; lower d-model, layers, mlp or vocab",
			params, maxParams)
	}
	if n := tensorCount(o); o.Shards > n {
		return o, fmt.Errorf("shards: %d is more than the model's %d tensors", o.Shards, n)
	}
	return o, nil
}

// tensorCount is the number of tensors of a model: embedding, final norm and LM head, and per
// block two norms, seven projections and, for Dream, three QKV biases.
func tensorCount(o Options) int {
	perBlock := 9
	if o.Family == FamilyDream {
		perBlock += 3
	}
	return 3 + o.Layers*perBlock
}
