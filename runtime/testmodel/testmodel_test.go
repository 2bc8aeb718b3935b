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
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// writeModel writes o into a fresh temporary folder and returns it.
func writeModel(t *testing.T, o Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := Write(dir, o); err != nil {
		t.Fatalf("Write(%+v) error: %v", o, err)
	}
	return dir
}

// readFiles returns the contents of every file in dir by name.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

func TestWriteLoads(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		wantConfig weights.Config
		wantFiles  []string
		specials   map[string]string // config.json field -> token content
		wantPrompt string
	}{
		{
			name: "llada", opts: Options{Family: "llada", Seed: 1},
			wantConfig: weights.Config{
				Family: weights.FamilyLLaDA, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 4, HeadDim: 16,
				Intermediate: 128, Vocab: 320, RopeTheta: 500000, RMSNormEps: 1e-5,
				MaskTokenID: 288, EOSTokenID: 287, PadTokenID: 287, BOSTokenID: -1,
				MaxSequenceLength: 4096, DType: weights.BF16,
			},
			wantFiles: []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"},
			specials:  map[string]string{"mask_token_id": "<|mdm_mask|>", "eos_token_id": "<|endoftext|>", "pad_token_id": "<|endoftext|>"},
			wantPrompt: "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nhello world<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n",
		},
		{
			name: "llada sharded", opts: Options{Family: "LLaDA", Seed: 1, Shards: 3, KVHeads: 2, Layers: 3},
			wantConfig: weights.Config{
				Family: weights.FamilyLLaDA, Hidden: 64, Layers: 3, Heads: 4, KVHeads: 2, HeadDim: 16,
				Intermediate: 128, Vocab: 320, RopeTheta: 500000, RMSNormEps: 1e-5,
				MaskTokenID: 288, EOSTokenID: 287, PadTokenID: 287, BOSTokenID: -1,
				MaxSequenceLength: 4096, DType: weights.BF16,
			},
			wantFiles: []string{
				"config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
				"model-00003-of-00003.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
			},
			specials: map[string]string{"mask_token_id": "<|mdm_mask|>", "eos_token_id": "<|endoftext|>", "pad_token_id": "<|endoftext|>"},
			wantPrompt: "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nhello world<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n",
		},
		{
			name: "dream", opts: Options{Family: "dream", Seed: 1},
			wantConfig: weights.Config{
				Family: weights.FamilyDream, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
				Intermediate: 128, Vocab: 320, RopeTheta: 1e6, RMSNormEps: 1e-6,
				MaskTokenID: 289, EOSTokenID: 286, PadTokenID: 286, BOSTokenID: 286,
				QKVBias: true, MaxSequenceLength: 131072, DType: weights.BF16,
			},
			wantFiles: []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"},
			specials: map[string]string{
				"mask_token_id": "<|mask|>", "eos_token_id": "<|endoftext|>", "pad_token_id": "<|endoftext|>",
				"bos_token_id": "<|endoftext|>",
			},
			wantPrompt: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name: "dream sharded", opts: Options{Family: "dream", Seed: 1, Shards: 3, DModel: 32, Heads: 2, MLP: 96, Vocab: 400},
			wantConfig: weights.Config{
				Family: weights.FamilyDream, Hidden: 32, Layers: 2, Heads: 2, KVHeads: 1, HeadDim: 16,
				Intermediate: 96, Vocab: 400, RopeTheta: 1e6, RMSNormEps: 1e-6,
				MaskTokenID: 289, EOSTokenID: 286, PadTokenID: 286, BOSTokenID: 286,
				QKVBias: true, MaxSequenceLength: 131072, DType: weights.BF16,
			},
			wantFiles: []string{
				"config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
				"model-00003-of-00003.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
			},
			specials: map[string]string{
				"mask_token_id": "<|mask|>", "eos_token_id": "<|endoftext|>", "pad_token_id": "<|endoftext|>",
				"bos_token_id": "<|endoftext|>",
			},
			wantPrompt: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModel(t, tc.opts)

			files := readFiles(t, dir)
			if diff := cmp.Diff(tc.wantFiles, slices.Sorted(maps.Keys(files))); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}

			ckpt, err := weights.Open(dir)
			if err != nil {
				t.Fatalf("weights.Open() error: %v", err)
			}
			t.Cleanup(func() { _ = ckpt.Close() })
			if diff := cmp.Diff(tc.wantConfig, ckpt.Config); diff != "" {
				t.Errorf("weights.Open().Config (-want +got):\n%s", diff)
			}
			checkTensorValues(t, ckpt)

			tok, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatalf("tokenizer.Load() error: %v", err)
			}
			checkSpecialIDs(t, files["config.json"], tok, tc.specials)
			checkRoundTrip(t, tok)

			prompt, err := tok.ApplyChatTemplate([]tokenizer.Message{
				{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hello world"},
			}, true)
			if err != nil {
				t.Fatalf("ApplyChatTemplate() error: %v", err)
			}
			if prompt != tc.wantPrompt {
				t.Errorf("ApplyChatTemplate() =\n%q\nwant\n%q", prompt, tc.wantPrompt)
			}
			if cfg := tok.Config(); cfg.AddBOSToken || cfg.AddEOSToken {
				t.Errorf("tokenizer Config() = %+v, want add_bos_token and add_eos_token false", cfg)
			}
		})
	}
}

// checkTensorValues checks that norm weights are ones and that matrices and biases are small
// random values.
func checkTensorValues(t *testing.T, ckpt *weights.Checkpoint) {
	t.Helper()
	for _, name := range ckpt.Names() {
		tn, err := ckpt.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		values, err := tn.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if len(tn.Shape) == 1 && !strings.HasSuffix(name, ".bias") {
			if slices.ContainsFunc(values, func(v float32) bool { return v != 1 }) {
				t.Errorf("tensor %q: norm weight not all ones", name)
			}
			continue
		}
		var sum, sumSq float64
		for _, v := range values {
			sum += float64(v)
			sumSq += float64(v) * float64(v)
		}
		n := float64(len(values))
		mean, std := sum/n, sumSq/n
		if std > 0 {
			std = math.Sqrt(std - mean*mean)
		}
		// Loose bounds: the smallest tensors (biases of 32 values) vary most.
		if mean < -0.02 || mean > 0.02 || std < 0.01 || std > 0.03 {
			t.Errorf("tensor %q: mean %g std %g, want about 0 and %g", name, mean, std, initStd)
		}
	}
}

// checkSpecialIDs checks that each config.json token id field holds the tokenizer's id for
// its token.
func checkSpecialIDs(t *testing.T, configJSON []byte, tok *tokenizer.Tokenizer, specials map[string]string) {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal(configJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	for field, content := range specials {
		want, ok := tok.TokenID(content)
		if !ok {
			t.Errorf("tokenizer has no token %q", content)
			continue
		}
		if got, ok := cfg[field].(float64); !ok || int(got) != want {
			t.Errorf("config.json %s = %v, want %d, the id of %q", field, cfg[field], want, content)
		}
	}
}

// checkRoundTrip encodes and decodes a sample and checks the merges and special tokens.
func checkRoundTrip(t *testing.T, tok *tokenizer.Tokenizer) {
	t.Helper()
	const sample = "hello world, the end and the rest\n\nnaïve café 🙂 42 <|endoftext|>"
	ids, err := tok.Encode(sample)
	if err != nil {
		t.Fatalf("Encode(%q) error: %v", sample, err)
	}
	got, err := tok.Decode(ids, false)
	if err != nil {
		t.Fatalf("Decode() error: %v", err)
	}
	if got != sample {
		t.Errorf("Decode(Encode(%q)) = %q", sample, got)
	}
	want := make([]int, 0, 2)
	for _, s := range []string{"hello", "Ġworld"} {
		id, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("tokenizer has no token %q", s)
		}
		want = append(want, id)
	}
	if len(ids) < 2 || !slices.Equal(ids[:2], want) {
		t.Errorf("Encode(%q) starts with %v, want %v (the merged hello and Ġworld)", sample, ids[:min(2, len(ids))], want)
	}
	eos, _ := tok.TokenID("<|endoftext|>")
	if ids[len(ids)-1] != eos {
		t.Errorf("Encode(%q) ends with %d, want %d (<|endoftext|> as one token)", sample, ids[len(ids)-1], eos)
	}
}

func TestWriteDeterministic(t *testing.T) {
	for _, family := range []string{FamilyLLaDA, FamilyDream} {
		t.Run(family, func(t *testing.T) {
			a := readFiles(t, writeModel(t, Options{Family: family, Seed: 7, Shards: 2}))
			b := readFiles(t, writeModel(t, Options{Family: family, Seed: 7, Shards: 2}))
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("two writes with seed 7 differ (-first +second):\n%s", diff)
			}
			c := readFiles(t, writeModel(t, Options{Family: family, Seed: 8, Shards: 2}))
			for name := range a {
				same := bytes.Equal(a[name], c[name])
				if isWeights := strings.HasSuffix(name, ".safetensors"); same == isWeights {
					t.Errorf("%s: seeds 7 and 8 give equal files: %t, want %t", name, same, !isWeights)
				}
			}
		})
	}
}

func TestWriteReplacesLayout(t *testing.T) {
	dir := writeModel(t, Options{Family: FamilyLLaDA, Seed: 1, Shards: 3})
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, Options{Family: FamilyDream, Seed: 2}); err != nil {
		t.Fatalf("Write() over an earlier model error: %v", err)
	}
	got := slices.Sorted(maps.Keys(readFiles(t, dir)))
	want := []string{"README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files after rewriting (-want +got):\n%s", diff)
	}
	ckpt, err := weights.Open(dir)
	if err != nil {
		t.Fatalf("weights.Open() error: %v", err)
	}
	defer func() { _ = ckpt.Close() }()
	if ckpt.Config.Family != weights.FamilyDream {
		t.Errorf("Config.Family = %v, want %v", ckpt.Config.Family, weights.FamilyDream)
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "no family", opts: Options{}, wantErr: `family: "" unsupported`},
		{name: "unknown family", opts: Options{Family: "gpt2"}, wantErr: `family: "gpt2" unsupported`},
		{name: "negative d-model", opts: Options{Family: "llada", DModel: -1}, wantErr: "d-model: -1 out of range"},
		{name: "huge layers", opts: Options{Family: "llada", Layers: 1 << 21}, wantErr: "layers: 2097152 out of range"},
		{name: "heads do not divide", opts: Options{Family: "llada", Heads: 3}, wantErr: "heads: 3 does not divide d-model 64"},
		{name: "odd head dim", opts: Options{Family: "dream", DModel: 36, Heads: 4}, wantErr: "heads: head dimension d-model/heads = 36/4 = 9 is odd"},
		{name: "kv-heads do not divide", opts: Options{Family: "dream", KVHeads: 3}, wantErr: "kv-heads: 3 does not divide heads 4"},
		{name: "negative mlp", opts: Options{Family: "dream", MLP: -5}, wantErr: "mlp: -5 out of range"},
		{name: "vocab too small", opts: Options{Family: "llada", Vocab: 200}, wantErr: "vocab: 200 is smaller than the tokenizer's 292 tokens"},
		{name: "too many shards", opts: Options{Family: "llada", Layers: 1, Shards: 13}, wantErr: "shards: 13 is more than the model's 12 tensors"},
		{name: "too large", opts: Options{Family: "llada", DModel: 8192, MLP: 32768, Layers: 64}, wantErr: "parameters, more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model")
			err := Write(dir, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Write(%+v) error = %v, want it to contain %q", tc.opts, err, tc.wantErr)
			}
			if vErr := tc.opts.Validate(); vErr == nil {
				t.Errorf("Validate(%+v) = nil, want an error", tc.opts)
			}
			if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
				t.Errorf("Write(%+v) created %s despite invalid options", tc.opts, dir)
			}
		})
	}
}
