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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// initStd is the standard deviation of the random matrices and biases, the init_std of the
// real configs.
const initStd = 0.02

// shardPattern matches the shard files of any earlier sharded write.
var shardPattern = regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`)

// Write writes the test model o describes into dir, creating dir when needed: config.json,
// the weights (model.safetensors, or shards and model.safetensors.index.json), tokenizer.json
// and tokenizer_config.json. Each file is written to a temporary file and renamed into place;
// config.json comes last, so a complete config.json means the other files are complete too.
// Weight files of an earlier write with another shard count are removed, as transformers'
// save_pretrained does. Errors of invalid options name the field (see [Options]).
func Write(dir string, o Options) error {
	o, err := o.resolve()
	if err != nil {
		return fmt.Errorf("testmodel: %w", err)
	}
	if err := write(dir, o); err != nil {
		return fmt.Errorf("write test model %q: %w", dir, err)
	}
	return nil
}

func write(dir string, o Options) error {
	v := newVocab(o.Family)
	configJSON, err := marshal(configMap(o, v))
	if err != nil {
		return err
	}
	// The loader's own parser checks the config and gives the tensor names and shapes.
	cfg, err := weights.ParseConfig(configJSON)
	if err != nil {
		return fmt.Errorf("%s: %w", weights.ConfigFile, err)
	}
	specs, err := weights.Expected(cfg)
	if err != nil {
		return err
	}
	tensors, err := randomTensors(specs, o.Seed)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	written, err := writeWeights(dir, tensors, o.Shards)
	if err != nil {
		return err
	}
	if err := removeStale(dir, written); err != nil {
		return err
	}
	tokJSON, err := v.tokenizerJSON()
	if err != nil {
		return err
	}
	tokConfigJSON, err := v.tokenizerConfigJSON()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{tokenizer.TokenizerFile, tokJSON},
		{tokenizer.ConfigFile, tokConfigJSON},
		{weights.ConfigFile, configJSON},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// configMap returns config.json of the family with o's sizes. The special token ids are the
// test vocabulary's own: the real ids (LLaDA's mask 126336, Dream's 151666, ...) lie far
// outside a tiny vocabulary.
func configMap(o Options, v vocab) map[string]any {
	if o.Family == FamilyDream {
		return dreamConfig(o, v)
	}
	return lladaConfig(o, v)
}

// lladaConfig is GSAI-ML/LLaDA-8B-Instruct's config.json with o's sizes. Like the real file
// it has no bos_token_id; <|startoftext|> comes from tokenizer_config.json.
func lladaConfig(o Options, v vocab) map[string]any {
	eos := v.id(tokEndOfText)
	return map[string]any{
		"activation_type":                  "silu",
		"alibi":                            false,
		"alibi_bias_max":                   8.0,
		"architectures":                    []string{"LLaDAModelLM"},
		"attention_dropout":                0.0,
		"attention_layer_norm":             false,
		"attention_layer_norm_with_affine": true,
		"auto_map": map[string]string{
			"AutoConfig":           "configuration_llada.LLaDAConfig",
			"AutoModel":            "modeling_llada.LLaDAModelLM",
			"AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
		},
		"bias_for_layer_norm":    false,
		"block_group_size":       1,
		"block_type":             "llama",
		"d_model":                o.DModel,
		"embedding_dropout":      0.0,
		"embedding_size":         o.Vocab,
		"eos_token_id":           eos,
		"flash_attention":        false,
		"include_bias":           false,
		"include_qkv_bias":       false,
		"init_cutoff_factor":     nil,
		"init_device":            "meta",
		"init_fn":                "mitchell",
		"init_std":               initStd,
		"input_emb_norm":         false,
		"layer_norm_type":        "rms",
		"layer_norm_with_affine": true,
		"mask_token_id":          v.id(tokMDMMask),
		"max_sequence_length":    4096,
		"mlp_hidden_size":        o.MLP,
		"mlp_ratio":              4, // ignored when mlp_hidden_size is set, as in the real file
		"model_type":             "llada",
		"multi_query_attention":  nil,
		"n_heads":                o.Heads,
		"n_kv_heads":             o.KVHeads,
		"n_layers":               o.Layers,
		"pad_token_id":           eos,
		"precision":              "amp_bf16",
		"residual_dropout":       0.0,
		"rms_norm_eps":           1e-05,
		"rope":                   true,
		"rope_full_precision":    true,
		"rope_theta":             500000.0,
		"scale_logits":           false,
		"torch_dtype":            "bfloat16",
		"transformers_version":   "4.46.3",
		"use_cache":              false,
		"vocab_size":             o.Vocab,
		"weight_tying":           false,
	}
}

// dreamConfig is Dream-org/Dream-v0-Instruct-7B's config.json with o's sizes.
func dreamConfig(o Options, v vocab) map[string]any {
	eos := v.id(tokEndOfText)
	return map[string]any{
		"architectures":     []string{"DreamModel"},
		"attention_dropout": 0.0,
		"auto_map": map[string]string{
			"AutoConfig": "configuration_dream.DreamConfig",
			"AutoModel":  "modeling_dream.DreamModel",
		},
		"bos_token_id":            eos,
		"eos_token_id":            eos,
		"hidden_act":              "silu",
		"hidden_size":             o.DModel,
		"initializer_range":       initStd,
		"intermediate_size":       o.MLP,
		"mask_token_id":           v.id(tokMask),
		"max_position_embeddings": 131072,
		"max_window_layers":       o.Layers,
		"model_type":              "Dream",
		"num_attention_heads":     o.Heads,
		"num_hidden_layers":       o.Layers,
		"num_key_value_heads":     o.KVHeads,
		"pad_token_id":            eos,
		"rms_norm_eps":            1e-06,
		"rope_scaling":            nil,
		"rope_theta":              1000000.0,
		"sliding_window":          131072,
		"tie_word_embeddings":     false,
		"torch_dtype":             "bfloat16",
		"transformers_version":    "4.46.2",
		"use_cache":               true,
		"use_sliding_window":      false,
		"vocab_size":              o.Vocab,
	}
}

// randomTensors returns BF16 tensors for specs: ones for norm weights, normal(0, initStd)
// values for matrices and biases. Each tensor draws from its own PCG stream, seeded by seed
// and a hash of its name, so its values do not depend on the other tensors: layer 0 of a
// 2-layer and a 4-layer model with the same seed are equal.
func randomTensors(specs []weights.TensorSpec, seed int64) ([]weights.Tensor, error) {
	tensors := make([]weights.Tensor, 0, len(specs))
	for _, s := range specs {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		values := make([]float32, n)
		if len(s.Shape) == 1 && !strings.HasSuffix(s.Name, ".bias") {
			for i := range values {
				values[i] = 1
			}
		} else {
			h := fnv.New64a()
			h.Write([]byte(s.Name)) // never fails
			r := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
			for i := range values {
				values[i] = float32(r.NormFloat64() * initStd)
			}
		}
		t, err := weights.FromFloat32(s.Name, weights.BF16, s.Shape, values)
		if err != nil {
			return nil, err
		}
		tensors = append(tensors, t)
	}
	return tensors, nil
}

// writeWeights writes tensors as model.safetensors, or as shards consecutive in order with an
// index, and returns the names of the files it wrote.
func writeWeights(dir string, tensors []weights.Tensor, shards int) ([]string, error) {
	meta := map[string]string{"format": "pt"}
	if shards == 1 {
		return []string{weights.SingleFile}, weights.WriteSafetensors(filepath.Join(dir, weights.SingleFile), tensors, meta)
	}
	var (
		names     []string
		weightMap = map[string]string{}
		total     int64
	)
	for k := range shards {
		// Shard k holds tensors [k·n/shards, (k+1)·n/shards), so every shard has at least one.
		part := tensors[k*len(tensors)/shards : (k+1)*len(tensors)/shards]
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", k+1, shards)
		for _, t := range part {
			weightMap[t.Name] = name
			total += int64(len(t.Data))
		}
		if err := weights.WriteSafetensors(filepath.Join(dir, name), part, meta); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	if err := weights.WriteIndex(filepath.Join(dir, weights.IndexFile), weightMap, total); err != nil {
		return nil, err
	}
	return append(names, weights.IndexFile), nil
}

// removeStale removes the weight files in dir that an earlier write with another layout left
// and this one did not write: model.safetensors, the index and model-*-of-*.safetensors.
func removeStale(dir string, written []string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, n := range written {
		keep[n] = true
	}
	for _, e := range entries {
		n := e.Name()
		stale := n == weights.SingleFile || n == weights.IndexFile || shardPattern.MatchString(n)
		if !stale || keep[n] || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale weights: %w", err)
		}
	}
	return nil
}

// marshal encodes v as indented JSON without HTML escaping, so that "<|endoftext|>" stays
// readable as in the Hugging Face files, with a final newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and renames it to
// path. On error the temporary file is removed and path is untouched.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// The write error is the one worth reporting.
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("write %q: %w", path, err)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; checkpoints are read by other users.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
