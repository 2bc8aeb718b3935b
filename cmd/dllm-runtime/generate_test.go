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

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/tokenizer"
)

// writeModel writes a test checkpoint and returns its folder.
func writeModel(t *testing.T, o testmodel.Options) string {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

// generateJSON runs generate with --json and decodes its output.
func generateJSON(t *testing.T, args ...string) generateResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"generate", "--json"}, args...)
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("run(%q) = %d; stderr:\n%s", args, code, stderr.String())
	}
	var res generateResult
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("run(%q) printed invalid JSON: %v", args, err)
	}
	return res
}

func TestGenerateJSON(t *testing.T) {
	for _, family := range []string{"llada", "dream"} {
		t.Run(family, func(t *testing.T) {
			dir := writeModel(t, testmodel.Options{Family: family, Seed: 11})
			res := generateJSON(t, "--model", dir, "--prompt", "Hello world", "--chat", "--gen-length", "8", "--steps", "4")
			if len(res.GeneratedIDs) != 8 || res.Steps != 4 || res.Forwards != 4 || len(res.StepMillis) != 4 {
				t.Errorf("generated %d ids in %d steps, %d forwards, %d timings; want 8, 4, 4, 4",
					len(res.GeneratedIDs), res.Steps, res.Forwards, len(res.StepMillis))
			}
			if res.FLOPs <= 0 || res.FLOPs%4 != 0 {
				t.Errorf("flops = %d, want 4 equal forwards' worth", res.FLOPs)
			}
			tok, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			chat, err := tok.ApplyChatTemplate([]tokenizer.Message{{Role: "user", Content: "Hello world"}}, true)
			if err != nil {
				t.Fatal(err)
			}
			want, err := tok.Encode(chat)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.PromptIDs, want) {
				t.Errorf("prompt ids %v, want the chat template's %v", res.PromptIDs, want)
			}
		})
	}
}

// The command reproduces the independent PyTorch reference's generations (the parity
// fixtures) from the command line.
func TestGenerateMatchesReference(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "runtime", "parity", "testdata", "llada.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Checkpoint struct {
			Seed          int64
			DModel        int `json:"d_model"`
			Layers, Heads int
			KVHeads       int `json:"kv_heads"`
			MLP, Vocab    int
		}
		Generate []struct {
			Name      string
			PromptIDs []int `json:"prompt_ids"`
			Settings  struct {
				GenLength   int `json:"gen_length"`
				BlockLength int `json:"block_length"`
				Steps       int
			}
			GeneratedIDs []int `json:"generated_ids"`
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	c := f.Checkpoint
	dir := writeModel(t, testmodel.Options{Family: "llada", Seed: c.Seed, DModel: c.DModel, Layers: c.Layers,
		Heads: c.Heads, KVHeads: c.KVHeads, MLP: c.MLP, Vocab: c.Vocab})
	for _, g := range f.Generate {
		t.Run(g.Name, func(t *testing.T) {
			res := generateJSON(t, "--model", dir, "--prompt-ids", joinInts(g.PromptIDs),
				"--gen-length", strconv.Itoa(g.Settings.GenLength), "--block-length", strconv.Itoa(g.Settings.BlockLength),
				"--steps", strconv.Itoa(g.Settings.Steps), "--temperature", "0", "--remasking", "low_confidence")
			if !slices.Equal(res.GeneratedIDs, g.GeneratedIDs) {
				t.Errorf("generated %v, reference %v", res.GeneratedIDs, g.GeneratedIDs)
			}
		})
	}
}

// --prompt-ids works on a folder with only config.json and the weights.
func TestGenerateWithoutTokenizer(t *testing.T) {
	dir := writeModel(t, testmodel.Options{Family: "dream", Seed: 12})
	for _, name := range []string{tokenizer.TokenizerFile, "tokenizer_config.json"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	res := generateJSON(t, "--model", dir, "--prompt-ids", "5, 6,7", "--gen-length", "4", "--alg", "maskgit_plus")
	if res.Text != "" || len(res.GeneratedIDs) != 4 || !slices.Equal(res.PromptIDs, []int{5, 6, 7}) {
		t.Errorf("got text %q, ids %v for prompt %v", res.Text, res.GeneratedIDs, res.PromptIDs)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"generate", "--model", dir, "--prompt-ids", "5", "--gen-length", "2"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("text mode: exit %d: %s", code, stderr.String())
	}
	if got := strings.Count(strings.TrimSpace(stdout.String()), ","); got != 1 {
		t.Errorf("without a tokenizer the text mode prints the ids; got %q", stdout.String())
	}
	code := run([]string{"generate", "--model", dir, "--prompt", "hi"}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), tokenizer.TokenizerFile) {
		t.Errorf("--prompt without a tokenizer: exit %d, stderr %q", code, stderr.String())
	}
}

func TestGenerateErrors(t *testing.T) {
	llada := writeModel(t, testmodel.Options{Family: "llada", Seed: 13})
	dream := writeModel(t, testmodel.Options{Family: "dream", Seed: 13})
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no model", []string{"--prompt-ids", "1"}, exitUsage, "--model is required"},
		{"no prompt", []string{"--model", llada}, exitUsage, "exactly one of --prompt and --prompt-ids"},
		{"two prompts", []string{"--model", llada, "--prompt", "a", "--prompt-ids", "1"}, exitUsage, "exactly one"},
		{"chat with ids", []string{"--model", llada, "--prompt-ids", "1", "--chat"}, exitUsage, "--chat needs --prompt"},
		{"bad ids", []string{"--model", llada, "--prompt-ids", "1,x"}, exitUsage, `item 2 "x" is not a token id`},
		{"id outside vocab", []string{"--model", llada, "--prompt-ids", "1,5000", "--gen-length", "2"}, exitUsage, "5000"},
		{"block does not divide", []string{"--model", llada, "--prompt-ids", "1", "--gen-length", "10", "--block-length", "4"}, exitUsage,
			"gen-length 10 is not a multiple of block-length 4"},
		{"bad remasking", []string{"--model", llada, "--prompt-ids", "1", "--remasking", "sometimes"}, exitUsage, `remasking "sometimes"`},
		{"dream blocks", []string{"--model", dream, "--prompt-ids", "1", "--gen-length", "8", "--block-length", "4"}, exitUsage,
			"Dream decodes the whole response at once"},
		{"bad alg", []string{"--model", dream, "--prompt-ids", "1", "--alg", "best"}, exitUsage, `alg "best"`},
		{"missing model folder", []string{"--model", filepath.Join(llada, "nope"), "--prompt-ids", "1"}, exitError, "config.json"},
		{"negative threads", []string{"--model", llada, "--prompt-ids", "1", "--threads", "-1"}, exitUsage, "--threads -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"generate"}, tc.args...)
			code := run(args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("run(%q) = %d, stderr %q; want %d and %q", args, code, stderr.String(), tc.wantCode, tc.wantStderr)
			}
		})
	}
}

func TestGenerateCache(t *testing.T) {
	for _, family := range []string{"llada", "dream"} {
		t.Run(family, func(t *testing.T) {
			dir := writeModel(t, testmodel.Options{Family: family, Seed: 14, Layers: 3})
			args := []string{"--model", dir, "--prompt-ids", "5,6,7,8,9,10", "--gen-length", "16", "--steps", "16"}
			exact := generateJSON(t, args...)
			if exact.Cache != nil || exact.FLOPs != exact.ExactFLOPs || exact.SavedFLOPs != 0 || exact.RefFLOPs <= exact.FLOPs {
				t.Errorf("exact run: cache %v, flops %d exact %d saved %d reference %d", exact.Cache, exact.FLOPs, exact.ExactFLOPs, exact.SavedFLOPs, exact.RefFLOPs)
			}
			same := generateJSON(t, append(args, "--cache", "--cache-prompt-interval", "1", "--cache-response-interval", "1", "--cache-transfer-ratio", "0")...)
			if !slices.Equal(same.GeneratedIDs, exact.GeneratedIDs) || same.FLOPs != exact.FLOPs {
				t.Errorf("K_p = K_r = 1, rho = 0 generated %v (%d FLOPs), the exact path %v (%d)", same.GeneratedIDs, same.FLOPs, exact.GeneratedIDs, exact.FLOPs)
			}
			cached := generateJSON(t, append(args, "--cache", "--cache-prompt-interval", "8", "--cache-response-interval", "4")...)
			if cached.SavedFLOPs <= 0 || cached.FLOPs+cached.SavedFLOPs != cached.ExactFLOPs || cached.Cache == nil || cached.Cache.ResponseInterval != 4 {
				t.Errorf("cached run: flops %d saved %d exact %d, cache %+v", cached.FLOPs, cached.SavedFLOPs, cached.ExactFLOPs, cached.Cache)
			}
		})
	}
	dir := writeModel(t, testmodel.Options{Family: "llada", Seed: 15})
	// Guidance with the CFG cache: unconditional passes at steps 1-5 and 7 of 8.
	guided := generateJSON(t, "--model", dir, "--prompt-ids", "1,2,3", "--gen-length", "8", "--steps", "8",
		"--cfg-scale", "1", "--cfg-interval", "3", "--cache", "--cache-prompt-interval", "1", "--cache-response-interval", "1", "--cache-transfer-ratio", "0")
	if guided.Forwards != 14 || guided.FLOPs != guided.ExactFLOPs {
		t.Errorf("guided cached run: %d forwards (want 14), flops %d, exact %d", guided.Forwards, guided.FLOPs, guided.ExactFLOPs)
	}
	var stdout, stderr bytes.Buffer
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cache", "--cfg-scale", "1", "--cfg-interval", "-2"}, "--cfg-interval -2"},
		{[]string{"--cache", "--cache-response-interval", "0"}, "cache-response-interval 0"},
	} {
		stderr.Reset()
		args := append([]string{"generate", "--model", dir, "--prompt-ids", "1"}, tc.args...)
		if code := run(args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) = %d, stderr %q; want a usage error naming %q", args, code, stderr.String(), tc.want)
		}
	}
}

func TestBench(t *testing.T) {
	dir := writeModel(t, testmodel.Options{Family: "llada", Seed: 16, Layers: 2})
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--model", dir, "--prompt-len", "12", "--gen-length", "8", "--block-length", "4",
		"--steps", "8", "--cache-prompt-interval", "4", "--cache-response-interval", "2", "--repeats", "3", "--json"}
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("run(%q) = %d; stderr:\n%s", args, code, stderr.String())
	}
	var res benchResult
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.ExactMillis) != 3 || len(res.CachedMillis) != 3 || res.FLOPsReduction <= 1 ||
		res.SpeedupMin > res.SpeedupMedian || res.SpeedupMedian > res.SpeedupMax || res.SpeedupPerFLOPs <= 0 {
		t.Errorf("bench result %+v", res)
	}
	if res.CachedFLOPs >= res.ExactFLOPs || res.ReferenceFLOPs <= res.ExactFLOPs {
		t.Errorf("FLOPs: cached %d, exact %d, reference %d", res.CachedFLOPs, res.ExactFLOPs, res.ReferenceFLOPs)
	}
	stderr.Reset()
	if code := run([]string{"bench", "--model", dir, "--repeats", "0"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("bench --repeats 0 = %d, want a usage error; stderr %q", code, stderr.String())
	}
}
