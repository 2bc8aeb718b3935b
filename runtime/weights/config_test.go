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

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lladaConfigMap returns the published LLaDA-8B-Instruct config.json as a map, changed by mods.
func lladaConfigMap(mods ...func(map[string]any)) map[string]any {
	m := map[string]any{
		"activation_type":                  "silu",
		"alibi":                            false,
		"alibi_bias_max":                   8.0,
		"architectures":                    []string{"LLaDAModelLM"},
		"attention_dropout":                0.0,
		"attention_layer_norm":             false,
		"attention_layer_norm_with_affine": true,
		"auto_map":                         map[string]string{"AutoConfig": "configuration_llada.LLaDAConfig"},
		"bias_for_layer_norm":              false,
		"block_group_size":                 1,
		"block_type":                       "llama",
		"d_model":                          4096,
		"embedding_dropout":                0.0,
		"embedding_size":                   126464,
		"eos_token_id":                     126081,
		"flash_attention":                  false,
		"include_bias":                     false,
		"include_qkv_bias":                 false,
		"init_cutoff_factor":               nil,
		"init_device":                      "meta",
		"init_fn":                          "mitchell",
		"init_std":                         0.02,
		"input_emb_norm":                   false,
		"layer_norm_type":                  "rms",
		"layer_norm_with_affine":           true,
		"mask_token_id":                    126336,
		"max_sequence_length":              4096,
		"mlp_hidden_size":                  12288,
		"mlp_ratio":                        4,
		"model_type":                       "llada",
		"multi_query_attention":            nil,
		"n_heads":                          32,
		"n_kv_heads":                       32,
		"n_layers":                         32,
		"pad_token_id":                     126081,
		"precision":                        "amp_bf16",
		"residual_dropout":                 0.0,
		"rms_norm_eps":                     1e-05,
		"rope":                             true,
		"rope_full_precision":              true,
		"rope_theta":                       500000.0,
		"scale_logits":                     false,
		"transformers_version":             "4.46.3",
		"use_cache":                        false,
		"vocab_size":                       126464,
		"weight_tying":                     false,
	}
	for _, mod := range mods {
		mod(m)
	}
	return m
}

// dreamConfigMap returns Dream-v0-Instruct-7B's config.json as a map, changed by mods.
func dreamConfigMap(mods ...func(map[string]any)) map[string]any {
	m := map[string]any{
		"architectures":           []string{"DreamModel"},
		"attention_dropout":       0.0,
		"auto_map":                map[string]string{"AutoModel": "modeling_dream.DreamModel"},
		"bos_token_id":            151643,
		"eos_token_id":            151643,
		"hidden_act":              "silu",
		"hidden_size":             3584,
		"initializer_range":       0.02,
		"intermediate_size":       18944,
		"mask_token_id":           151666,
		"max_position_embeddings": 131072,
		"max_window_layers":       28,
		"model_type":              "Dream",
		"num_attention_heads":     28,
		"num_hidden_layers":       28,
		"num_key_value_heads":     4,
		"pad_token_id":            151643,
		"rms_norm_eps":            1e-06,
		"rope_scaling":            nil,
		"rope_theta":              1000000.0,
		"sliding_window":          nil,
		"tie_word_embeddings":     false,
		"torch_dtype":             "bfloat16",
		"transformers_version":    "4.46.2",
		"use_cache":               true,
		"use_sliding_window":      false,
		"vocab_size":              152064,
	}
	for _, mod := range mods {
		mod(m)
	}
	return m
}

// set returns a modifier that sets key to v (nil writes JSON null).
func set(key string, v any) func(map[string]any) {
	return func(m map[string]any) { m[key] = v }
}

// del returns a modifier that removes key.
func del(key string) func(map[string]any) {
	return func(m map[string]any) { delete(m, key) }
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfig(t *testing.T) {
	llada8B := Config{
		Family: FamilyLLaDA, Hidden: 4096, Layers: 32, Heads: 32, KVHeads: 32, HeadDim: 128,
		Intermediate: 12288, Vocab: 126464, RopeTheta: 500000, RMSNormEps: 1e-5,
		MaskTokenID: 126336, EOSTokenID: 126081, PadTokenID: 126081, BOSTokenID: -1,
		MaxSequenceLength: 4096,
	}
	dream7B := Config{
		Family: FamilyDream, Hidden: 3584, Layers: 28, Heads: 28, KVHeads: 4, HeadDim: 128,
		Intermediate: 18944, Vocab: 152064, RopeTheta: 1e6, RMSNormEps: 1e-6,
		MaskTokenID: 151666, EOSTokenID: 151643, PadTokenID: 151643, BOSTokenID: 151643,
		QKVBias: true, MaxSequenceLength: 131072, DType: BF16,
	}
	with := func(c Config, mod func(*Config)) Config {
		mod(&c)
		return c
	}
	tests := []struct {
		name string
		in   map[string]any
		want Config
	}{
		{name: "LLaDA 8B", in: lladaConfigMap(), want: llada8B},
		{
			name: "LLaDA detected from architectures only",
			in:   lladaConfigMap(del("model_type")),
			want: llada8B,
		},
		{
			name: "LLaDA padded embedding_size",
			in:   lladaConfigMap(set("vocab_size", 126400)),
			want: llada8B,
		},
		{
			name: "LLaDA without embedding_size",
			in:   lladaConfigMap(del("embedding_size"), set("vocab_size", 1000), set("mask_token_id", 999), set("eos_token_id", 998), set("pad_token_id", nil)),
			want: with(llada8B, func(c *Config) { c.Vocab, c.MaskTokenID, c.EOSTokenID, c.PadTokenID = 1000, 999, 998, -1 }),
		},
		{
			name: "LLaDA n_kv_heads null means MHA",
			in:   lladaConfigMap(set("n_kv_heads", nil)),
			want: llada8B,
		},
		{
			name: "LLaDA multi_query_attention",
			in:   lladaConfigMap(set("n_kv_heads", nil), set("multi_query_attention", true)),
			want: with(llada8B, func(c *Config) { c.KVHeads = 1 }),
		},
		{
			name: "LLaDA mlp_ratio when mlp_hidden_size is null",
			in:   lladaConfigMap(set("mlp_hidden_size", nil), set("mlp_ratio", 3)),
			want: with(llada8B, func(c *Config) { c.Intermediate = 3 * 4096 }),
		},
		{
			name: "LLaDA tied, with qkv bias, bos and dtype",
			in: lladaConfigMap(set("weight_tying", true), set("include_qkv_bias", true),
				set("bos_token_id", 126080), set("torch_dtype", "float32")),
			want: with(llada8B, func(c *Config) {
				c.TiedEmbeddings, c.QKVBias, c.BOSTokenID, c.DType = true, true, 126080, F32
			}),
		},
		{
			name: "LLaDA defaults",
			in:   lladaConfigMap(del("rope_theta"), del("rms_norm_eps"), del("weight_tying"), del("max_sequence_length")),
			want: with(llada8B, func(c *Config) {
				c.RopeTheta, c.TiedEmbeddings, c.MaxSequenceLength = 10000, true, 0
			}),
		},
		{name: "Dream 7B", in: dreamConfigMap(), want: dream7B},
		{
			name: "Dream lowercase model_type",
			in:   dreamConfigMap(set("model_type", "dream")),
			want: dream7B,
		},
		{
			name: "Dream eos list keeps the first",
			in:   dreamConfigMap(set("eos_token_id", []int{151645, 151643})),
			want: with(dream7B, func(c *Config) { c.EOSTokenID = 151645 }),
		},
		{
			name: "Dream tied, MHA, explicit head_dim, float16",
			in: dreamConfigMap(set("tie_word_embeddings", true), del("num_key_value_heads"),
				set("head_dim", 128), set("torch_dtype", "float16")),
			want: with(dream7B, func(c *Config) { c.TiedEmbeddings, c.KVHeads, c.DType = true, 28, F16 }),
		},
		{
			name: "Dream defaults",
			in:   dreamConfigMap(del("rope_theta"), del("rms_norm_eps"), del("torch_dtype"), del("bos_token_id"), del("tie_word_embeddings")),
			want: with(dream7B, func(c *Config) { c.RopeTheta, c.DType, c.BOSTokenID = 10000, DTypeUnknown, -1 }),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig(mustJSON(t, tc.in))
			if err != nil {
				t.Fatalf("ParseConfig() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseConfig() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		in   any
		// wantErr must appear in the error; it names the field at fault.
		wantErr string
	}{
		{name: "not JSON", in: []byte(`{"d_model":`), wantErr: "parse JSON"},
		{name: "JSON array", in: []byte(`[1]`), wantErr: "parse JSON"},
		{name: "unknown model_type", in: lladaConfigMap(set("model_type", "llama")), wantErr: "model_type"},
		{name: "no family", in: lladaConfigMap(del("model_type"), set("architectures", []string{"LlamaForCausalLM"})), wantErr: "model_type: missing"},
		{name: "families disagree", in: lladaConfigMap(set("architectures", []string{"DreamModel"})), wantErr: "architectures"},
		{name: "families mixed", in: lladaConfigMap(del("model_type"), set("architectures", []string{"DreamModel", "LLaDAModelLM"})), wantErr: "architectures"},
		{name: "LLaDA wrong type", in: lladaConfigMap(set("d_model", "4096")), wantErr: "d_model"},
		{name: "LLaDA d_model missing", in: lladaConfigMap(del("d_model")), wantErr: "d_model"},
		{name: "LLaDA d_model zero", in: lladaConfigMap(set("d_model", 0)), wantErr: "d_model"},
		{name: "LLaDA n_layers negative", in: lladaConfigMap(set("n_layers", -1)), wantErr: "n_layers"},
		{name: "LLaDA n_layers huge", in: lladaConfigMap(set("n_layers", 1<<20)), wantErr: "n_layers"},
		{name: "LLaDA n_heads do not divide", in: lladaConfigMap(set("n_heads", 30)), wantErr: "n_heads"},
		{name: "LLaDA odd head dim", in: lladaConfigMap(set("d_model", 4064), set("n_heads", 32), set("mlp_hidden_size", 4096)), wantErr: "n_heads"},
		{name: "LLaDA n_kv_heads do not divide", in: lladaConfigMap(set("n_kv_heads", 5)), wantErr: "n_kv_heads"},
		{name: "LLaDA n_kv_heads zero", in: lladaConfigMap(set("n_kv_heads", 0)), wantErr: "n_kv_heads"},
		{name: "LLaDA no mlp size", in: lladaConfigMap(set("mlp_hidden_size", nil), del("mlp_ratio")), wantErr: "mlp_hidden_size"},
		{name: "LLaDA vocab missing", in: lladaConfigMap(del("vocab_size"), del("embedding_size")), wantErr: "vocab_size"},
		{name: "LLaDA embedding_size below vocab_size", in: lladaConfigMap(set("embedding_size", 100)), wantErr: "embedding_size"},
		{name: "LLaDA mask missing", in: lladaConfigMap(del("mask_token_id")), wantErr: "mask_token_id: missing"},
		{name: "LLaDA mask outside vocab", in: lladaConfigMap(set("mask_token_id", 126464)), wantErr: "mask_token_id"},
		{name: "LLaDA eos missing", in: lladaConfigMap(set("eos_token_id", nil)), wantErr: "eos_token_id: missing"},
		{name: "LLaDA pad negative", in: lladaConfigMap(set("pad_token_id", -5)), wantErr: "pad_token_id"},
		{name: "LLaDA bos outside vocab", in: lladaConfigMap(set("bos_token_id", 200000)), wantErr: "bos_token_id"},
		{name: "LLaDA rope_theta zero", in: lladaConfigMap(set("rope_theta", 0)), wantErr: "rope_theta"},
		{name: "LLaDA rms_norm_eps negative", in: lladaConfigMap(set("rms_norm_eps", -1e-5)), wantErr: "rms_norm_eps"},
		{name: "LLaDA max_sequence_length negative", in: lladaConfigMap(set("max_sequence_length", -1)), wantErr: "max_sequence_length"},
		{name: "LLaDA attention_layer_norm", in: lladaConfigMap(set("attention_layer_norm", true)), wantErr: "attention_layer_norm"},
		{name: "LLaDA layer_norm_type", in: lladaConfigMap(set("layer_norm_type", "default")), wantErr: "layer_norm_type"},
		{name: "LLaDA activation_type", in: lladaConfigMap(set("activation_type", "gelu")), wantErr: "activation_type"},
		{name: "LLaDA block_type", in: lladaConfigMap(set("block_type", "sequential")), wantErr: "block_type"},
		{name: "LLaDA rope off", in: lladaConfigMap(set("rope", false)), wantErr: "rope"},
		{name: "LLaDA rope missing", in: lladaConfigMap(del("rope")), wantErr: "rope: missing"},
		{name: "LLaDA alibi", in: lladaConfigMap(set("alibi", true)), wantErr: "alibi"},
		{name: "LLaDA input_emb_norm", in: lladaConfigMap(set("input_emb_norm", true)), wantErr: "input_emb_norm"},
		{name: "LLaDA scale_logits", in: lladaConfigMap(set("scale_logits", true)), wantErr: "scale_logits"},
		{name: "LLaDA include_bias", in: lladaConfigMap(set("include_bias", true)), wantErr: "include_bias"},
		{name: "LLaDA bias_for_layer_norm", in: lladaConfigMap(set("bias_for_layer_norm", true)), wantErr: "bias_for_layer_norm"},
		{name: "LLaDA layer_norm_with_affine", in: lladaConfigMap(set("layer_norm_with_affine", false)), wantErr: "layer_norm_with_affine"},
		{name: "LLaDA clip_qkv", in: lladaConfigMap(set("clip_qkv", 8.0)), wantErr: "clip_qkv"},
		{name: "LLaDA torch_dtype", in: lladaConfigMap(set("torch_dtype", "float64")), wantErr: "torch_dtype"},
		{name: "Dream hidden_size missing", in: dreamConfigMap(del("hidden_size")), wantErr: "hidden_size"},
		{name: "Dream num_hidden_layers zero", in: dreamConfigMap(set("num_hidden_layers", 0)), wantErr: "num_hidden_layers"},
		{name: "Dream heads do not divide", in: dreamConfigMap(set("num_attention_heads", 27)), wantErr: "num_attention_heads"},
		{name: "Dream kv heads do not divide", in: dreamConfigMap(set("num_key_value_heads", 3)), wantErr: "num_key_value_heads"},
		{name: "Dream intermediate_size missing", in: dreamConfigMap(del("intermediate_size")), wantErr: "intermediate_size"},
		{name: "Dream vocab_size too large", in: dreamConfigMap(set("vocab_size", 1<<31)), wantErr: "vocab_size"},
		{name: "Dream mask outside vocab", in: dreamConfigMap(set("mask_token_id", 152064)), wantErr: "mask_token_id"},
		{name: "Dream mask missing", in: dreamConfigMap(del("mask_token_id")), wantErr: "mask_token_id: missing"},
		{name: "Dream eos empty list", in: dreamConfigMap(set("eos_token_id", []int{})), wantErr: "eos_token_id: missing"},
		{name: "Dream eos list of strings", in: dreamConfigMap(set("eos_token_id", []string{"a"})), wantErr: "eos_token_id"},
		{name: "Dream hidden_act", in: dreamConfigMap(set("hidden_act", "gelu")), wantErr: "hidden_act"},
		{name: "Dream rope_scaling", in: dreamConfigMap(set("rope_scaling", map[string]any{"type": "yarn", "factor": 4})), wantErr: "rope_scaling"},
		{name: "Dream sliding window", in: dreamConfigMap(set("use_sliding_window", true)), wantErr: "use_sliding_window"},
		{name: "Dream head_dim", in: dreamConfigMap(set("head_dim", 64)), wantErr: "head_dim"},
		{name: "Dream rms_norm_eps one", in: dreamConfigMap(set("rms_norm_eps", 1.0)), wantErr: "rms_norm_eps"},
		{name: "Dream rope_theta", in: dreamConfigMap(set("rope_theta", -1.0)), wantErr: "rope_theta"},
		{name: "Dream max_position_embeddings", in: dreamConfigMap(set("max_position_embeddings", -4)), wantErr: "max_position_embeddings"},
		{name: "Dream torch_dtype", in: dreamConfigMap(set("torch_dtype", "int8")), wantErr: "torch_dtype"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, ok := tc.in.([]byte)
			if !ok {
				data = mustJSON(t, tc.in)
			}
			got, err := ParseConfig(data)
			if err == nil {
				t.Fatalf("ParseConfig() = %+v, want an error containing %q", got, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseConfig() error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadConfigNamesFileAndField(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	if err := os.WriteFile(path, mustJSON(t, lladaConfigMap(set("scale_logits", true))), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "scale_logits") {
		t.Errorf("LoadConfig(%q) error = %v, want it to name the file and scale_logits", path, err)
	}
}

func TestExpectedCounts(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want int
	}{
		// embedding + 9 per block + final norm + LM head
		{name: "LLaDA 8B", in: lladaConfigMap(), want: 1 + 32*9 + 2},
		{name: "LLaDA tied with qkv bias", in: lladaConfigMap(set("weight_tying", true), set("include_qkv_bias", true)), want: 1 + 32*12 + 1},
		{name: "Dream 7B", in: dreamConfigMap(), want: 1 + 28*12 + 2},
		{name: "Dream tied", in: dreamConfigMap(set("tie_word_embeddings", true)), want: 1 + 28*12 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig(mustJSON(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			specs, err := Expected(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(specs) != tc.want {
				t.Errorf("len(Expected()) = %d, want %d", len(specs), tc.want)
			}
		})
	}
}

func TestExpectedShapes(t *testing.T) {
	llada, err := ParseConfig(mustJSON(t, lladaConfigMap()))
	if err != nil {
		t.Fatal(err)
	}
	dream, err := ParseConfig(mustJSON(t, dreamConfigMap()))
	if err != nil {
		t.Fatal(err)
	}
	shapes := func(c Config) map[string][]int {
		specs, err := Expected(c)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]int{}
		for _, s := range specs {
			m[s.Name] = s.Shape
		}
		return m
	}
	lm, dm := shapes(llada), shapes(dream)
	tests := []struct {
		name string
		got  []int
		want []int
	}{
		// The published shapes (dllm-cache-spec 3.2 and 4).
		{"model.transformer.wte.weight", lm["model.transformer.wte.weight"], []int{126464, 4096}},
		{"model.transformer.ff_out.weight", lm["model.transformer.ff_out.weight"], []int{126464, 4096}},
		{"model.transformer.ln_f.weight", lm["model.transformer.ln_f.weight"], []int{4096}},
		{"model.transformer.blocks.31.attn_out.weight", lm["model.transformer.blocks.31.attn_out.weight"], []int{4096, 4096}},
		{"model.transformer.blocks.0.ff_proj.weight", lm["model.transformer.blocks.0.ff_proj.weight"], []int{12288, 4096}},
		{"model.transformer.blocks.0.up_proj.weight", lm["model.transformer.blocks.0.up_proj.weight"], []int{12288, 4096}},
		{"model.transformer.blocks.0.ff_out.weight", lm["model.transformer.blocks.0.ff_out.weight"], []int{4096, 12288}},
		{"model.transformer.blocks.0.ff_norm.weight", lm["model.transformer.blocks.0.ff_norm.weight"], []int{4096}},
		{"model.embed_tokens.weight", dm["model.embed_tokens.weight"], []int{152064, 3584}},
		{"lm_head.weight", dm["lm_head.weight"], []int{152064, 3584}},
		{"model.layers.27.self_attn.q_proj.weight", dm["model.layers.27.self_attn.q_proj.weight"], []int{3584, 3584}},
		{"model.layers.0.self_attn.k_proj.weight", dm["model.layers.0.self_attn.k_proj.weight"], []int{512, 3584}},
		{"model.layers.0.self_attn.v_proj.bias", dm["model.layers.0.self_attn.v_proj.bias"], []int{512}},
		{"model.layers.0.self_attn.o_proj.weight", dm["model.layers.0.self_attn.o_proj.weight"], []int{3584, 3584}},
		{"model.layers.0.mlp.gate_proj.weight", dm["model.layers.0.mlp.gate_proj.weight"], []int{18944, 3584}},
		{"model.layers.0.mlp.down_proj.weight", dm["model.layers.0.mlp.down_proj.weight"], []int{3584, 18944}},
		{"model.layers.0.post_attention_layernorm.weight", dm["model.layers.0.post_attention_layernorm.weight"], []int{3584}},
		{"model.norm.weight", dm["model.norm.weight"], []int{3584}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, tc.got); diff != "" {
			t.Errorf("Expected() shape of %s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := Expected(Config{}); err == nil {
		t.Error("Expected(Config{}) error = nil, want an error")
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(mustJSON(f, lladaConfigMap()))
	f.Add(mustJSON(f, dreamConfigMap()))
	f.Add(mustJSON(f, dreamConfigMap(set("eos_token_id", []int{1, 2}), set("num_attention_heads", 7))))
	f.Add(mustJSON(f, lladaConfigMap(set("n_kv_heads", nil), set("mlp_hidden_size", nil))))
	f.Add([]byte(`{"model_type":"llada","d_model":8,"n_layers":1,"n_heads":2,"mlp_ratio":2,"vocab_size":4,"mask_token_id":3,"eos_token_id":2,"rope":true}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig() = %+v whose Validate() = %v", cfg, err)
		}
		if cfg.Layers > 64 {
			return // keep Expected's allocation small
		}
		specs, err := Expected(cfg)
		if err != nil {
			t.Fatalf("Expected(%+v) error = %v", cfg, err)
		}
		for _, s := range specs {
			for _, d := range s.Shape {
				if d <= 0 {
					t.Fatalf("Expected(%+v) has %s with shape %v", cfg, s.Name, s.Shape)
				}
			}
		}
	})
}
