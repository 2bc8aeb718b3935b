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
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tinyLLaDA is a LLaDA config.json small enough to write in a test: D 8, 2 blocks, 4 query
// heads over 2 KV heads (Dh 2), I 12, V 16.
func tinyLLaDA(mods ...func(map[string]any)) map[string]any {
	base := []func(map[string]any){
		set("d_model", 8), set("n_layers", 2), set("n_heads", 4), set("n_kv_heads", 2),
		set("mlp_hidden_size", 12), set("vocab_size", 16), set("embedding_size", 16),
		set("mask_token_id", 15), set("eos_token_id", 14), set("pad_token_id", 14),
		set("max_sequence_length", 64),
	}
	return lladaConfigMap(slices.Concat(base, mods)...)
}

// tinyDream is a Dream config.json of the same sizes.
func tinyDream(mods ...func(map[string]any)) map[string]any {
	base := []func(map[string]any){
		set("hidden_size", 8), set("num_hidden_layers", 2), set("num_attention_heads", 4),
		set("num_key_value_heads", 2), set("intermediate_size", 12), set("vocab_size", 16),
		set("mask_token_id", 15), set("eos_token_id", 14), set("pad_token_id", 14),
		set("bos_token_id", 14), set("max_position_embeddings", 64),
	}
	return dreamConfigMap(slices.Concat(base, mods)...)
}

// values returns n deterministic values that BF16 and F16 represent exactly, so round trips
// can compare with ==. seed varies them between tensors.
func values(n, seed int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((i*7+seed*3)%33-16) / 8
	}
	return v
}

// tensorsFor builds the tensors Expected lists for the config.json cfgMap, all of type dt.
func tensorsFor(t testing.TB, cfgMap map[string]any, dt DType) []Tensor {
	t.Helper()
	cfg, err := ParseConfig(mustJSON(t, cfgMap))
	if err != nil {
		t.Fatal(err)
	}
	specs, err := Expected(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]Tensor, 0, len(specs))
	for i, s := range specs {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		tn, err := FromFloat32(s.Name, dt, s.Shape, values(n, i))
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tn)
	}
	return ts
}

// writeCheckpoint writes config.json and the tensors into dir in the Hugging Face layout:
// model.safetensors when shards is 1, otherwise model-0000N-of-0000M.safetensors with an
// index, the tensors dealt round-robin.
func writeCheckpoint(t testing.TB, dir string, cfgMap map[string]any, tensors []Tensor, shards int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), mustJSON(t, cfgMap), 0o600); err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{"format": "pt"}
	if shards == 1 {
		if err := WriteSafetensors(filepath.Join(dir, SingleFile), tensors, meta); err != nil {
			t.Fatal(err)
		}
		return
	}
	parts := make([][]Tensor, shards)
	weightMap := map[string]string{}
	var total int64
	for i, tn := range tensors {
		parts[i%shards] = append(parts[i%shards], tn)
		weightMap[tn.Name] = shardName(i%shards, shards)
		total += int64(len(tn.Data))
	}
	for i, p := range parts {
		if err := WriteSafetensors(filepath.Join(dir, shardName(i, shards)), p, meta); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteIndex(filepath.Join(dir, IndexFile), weightMap, total); err != nil {
		t.Fatal(err)
	}
}

func shardName(i, n int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
}

func TestOpenRoundTrip(t *testing.T) {
	for _, family := range []struct {
		name string
		cfg  func(...func(map[string]any)) map[string]any
	}{{"LLaDA", tinyLLaDA}, {"Dream", tinyDream}} {
		for _, dt := range []DType{BF16, F16, F32} {
			for _, shards := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/%v/%d shards", family.name, dt, shards), func(t *testing.T) {
					dir := t.TempDir()
					cfgMap := family.cfg(del("torch_dtype"))
					want := tensorsFor(t, cfgMap, dt)
					writeCheckpoint(t, dir, cfgMap, want, shards)

					c, err := Open(dir)
					if err != nil {
						t.Fatalf("Open() error = %v", err)
					}
					defer func() {
						if err := c.Close(); err != nil {
							t.Errorf("Close() error = %v", err)
						}
					}()
					if c.Config.DType != dt {
						t.Errorf("Config.DType = %v, want %v (from the weights)", c.Config.DType, dt)
					}
					wantNames := make([]string, 0, len(want))
					for _, w := range want {
						wantNames = append(wantNames, w.Name)
					}
					slices.Sort(wantNames)
					if diff := cmp.Diff(wantNames, c.Names()); diff != "" {
						t.Errorf("Names() mismatch (-want +got):\n%s", diff)
					}
					var size int64
					for _, w := range want {
						size += int64(w.NumElements() * dt.Size())
					}
					if handed, total := c.Progress(); handed != 0 || total != size {
						t.Errorf("Progress() before reading = %d of %d, want 0 of %d", handed, total, size)
					}
					for i, w := range want {
						got, err := c.Tensor(w.Name)
						if err != nil {
							t.Fatalf("Tensor(%q) error = %v", w.Name, err)
						}
						if got.DType != dt || !slices.Equal(got.Shape, w.Shape) || !strings.HasPrefix(got.File, dir) {
							t.Errorf("Tensor(%q) = %v %v in %q, want %v %v in %q", w.Name, got.DType, got.Shape, got.File, dt, w.Shape, dir)
						}
						f, err := got.Float32()
						if err != nil {
							t.Fatalf("Tensor(%q).Float32() error = %v", w.Name, err)
						}
						if diff := cmp.Diff(values(w.NumElements(), i), f); diff != "" {
							t.Errorf("Tensor(%q).Float32() mismatch (-want +got):\n%s", w.Name, diff)
						}
					}
					md, err := c.Metadata(want[0].Name)
					if err != nil || md["format"] != "pt" {
						t.Errorf("Metadata(%q) = %v, %v, want format pt", want[0].Name, md, err)
					}
					if _, err := c.Tensor(want[0].Name); err != nil { // a second read counts once
						t.Fatal(err)
					}
					if handed, total := c.Progress(); handed != size || total != size {
						t.Errorf("Progress() after reading every tensor = %d of %d, want %d of %d", handed, total, size, size)
					}
				})
			}
		}
	}
}

func TestOpenTiedAndBiases(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]any
		present string
		absent  string
	}{
		{"LLaDA tied", tinyLLaDA(set("weight_tying", true)), "model.transformer.wte.weight", "model.transformer.ff_out.weight"},
		{"LLaDA qkv bias", tinyLLaDA(set("include_qkv_bias", true)), "model.transformer.blocks.1.k_proj.bias", ""},
		{"Dream tied", tinyDream(set("tie_word_embeddings", true)), "model.layers.1.self_attn.v_proj.bias", "lm_head.weight"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCheckpoint(t, dir, tc.cfg, tensorsFor(t, tc.cfg, BF16), 1)
			c, err := Open(dir)
			if err != nil {
				t.Fatalf("Open() error = %v", err)
			}
			t.Cleanup(func() {
				if err := c.Close(); err != nil {
					t.Errorf("Close() error = %v", err)
				}
			})
			if _, err := c.Tensor(tc.present); err != nil {
				t.Errorf("Tensor(%q) error = %v", tc.present, err)
			}
			if tc.absent != "" {
				if _, err := c.Tensor(tc.absent); !errors.Is(err, ErrNotFound) {
					t.Errorf("Tensor(%q) error = %v, want ErrNotFound", tc.absent, err)
				}
			}
		})
	}
}

func TestCheckpointTensorErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyDream()
	writeCheckpoint(t, dir, cfg, tensorsFor(t, cfg, BF16), 1)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tensor("model.nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "model.nope") {
		t.Errorf("Tensor(missing) error = %v, want ErrNotFound naming the tensor", err)
	}
	if _, err := c.Metadata("model.nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Metadata(missing) error = %v, want ErrNotFound", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() error = %v, want nil", err)
	}
	if _, err := c.Tensor("model.norm.weight"); err == nil {
		t.Error("Tensor() after Close error = nil, want an error")
	}
}

// rawFile assembles a safetensors file from a header written by hand, for headers the writer
// would refuse to produce.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// overwrite replaces the file at path with data.
func overwrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// remove returns a tensor-list modifier that drops the tensor called name.
func remove(name string) func([]Tensor) []Tensor {
	return func(ts []Tensor) []Tensor {
		return slices.DeleteFunc(ts, func(t Tensor) bool { return t.Name == name })
	}
}

// change returns a tensor-list modifier that replaces the tensor called name with mod(it).
func change(name string, mod func(Tensor) Tensor) func([]Tensor) []Tensor {
	return func(ts []Tensor) []Tensor {
		for i := range ts {
			if ts[i].Name == name {
				ts[i] = mod(ts[i])
			}
		}
		return ts
	}
}

func TestOpenErrors(t *testing.T) {
	const norm = "model.norm.weight" // Dream's final norm, [8]
	reshaped := func(dt DType, shape ...int) func(Tensor) Tensor {
		return func(tn Tensor) Tensor {
			n := 1
			for _, d := range shape {
				n *= d
			}
			out, err := FromFloat32(tn.Name, dt, shape, values(n, 0))
			if err != nil {
				panic(err)
			}
			return out
		}
	}
	tests := []struct {
		name string
		cfg  map[string]any
		// tensorCfg is the config the tensors are built from; cfg when nil.
		tensorCfg map[string]any
		tensors   func([]Tensor) []Tensor
		shards    int
		// after changes the written folder.
		after func(t *testing.T, dir string)
		// wantErr lists strings the error must contain; "DIR" stands for the folder.
		wantErr []string
	}{
		{
			name:    "missing tensor",
			tensors: remove(norm),
			wantErr: []string{norm, "missing", "DIR/model.safetensors"},
		},
		{
			name: "misnamed tensor",
			tensors: change("model.layers.1.mlp.up_proj.weight", func(tn Tensor) Tensor {
				tn.Name = "model.layers.1.mlp.upproj.weight"
				return tn
			}),
			wantErr: []string{`"model.layers.1.mlp.up_proj.weight" missing`, "model.layers.1.mlp.upproj.weight"},
		},
		{
			name:    "missing tensor in sharded checkpoint names the index",
			tensors: remove("lm_head.weight"),
			shards:  2,
			wantErr: []string{"lm_head.weight", "missing", "DIR/" + IndexFile},
		},
		{
			name:    "wrong shape",
			tensors: change(norm, reshaped(BF16, 4, 2)),
			wantErr: []string{norm, "shape [4 2], want [8]", "DIR/model.safetensors"},
		},
		{
			name:    "wrong dtype against torch_dtype",
			tensors: change(norm, reshaped(F32, 8)),
			wantErr: []string{norm, "dtype F32, want BF16", "torch_dtype", "DIR/model.safetensors"},
		},
		{
			name:    "mixed dtypes without torch_dtype",
			cfg:     tinyDream(del("torch_dtype")),
			tensors: change(norm, reshaped(F16, 8)),
			wantErr: []string{norm, "dtype F16, want BF16", "model.embed_tokens.weight"},
		},
		{
			name: "truncated file",
			after: func(t *testing.T, dir string) {
				path := filepath.Join(dir, SingleFile)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				overwrite(t, path, b[:len(b)-3])
			},
			// Tensors are laid out by name, so the last one is cut short.
			wantErr: []string{"model.norm.weight", "file truncated?", "DIR/model.safetensors"},
		},
		{
			name: "header length beyond file",
			after: func(t *testing.T, dir string) {
				path := filepath.Join(dir, SingleFile)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				binary.LittleEndian.PutUint64(b, uint64(len(b)))
				overwrite(t, path, b)
			},
			wantErr: []string{"header length", "beyond the end of the file", "DIR/model.safetensors"},
		},
		{
			name: "bad JSON header",
			after: func(t *testing.T, dir string) {
				overwrite(t, filepath.Join(dir, SingleFile), rawFile(`{"a": {"dtype": "F32",`, nil))
			},
			wantErr: []string{"parse header JSON", "DIR/model.safetensors"},
		},
		{
			name: "overlapping offsets",
			after: func(t *testing.T, dir string) {
				overwrite(t, filepath.Join(dir, SingleFile), rawFile(
					`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`,
					make([]byte, 12)))
			},
			wantErr: []string{`tensor "b"`, `overlap tensor "a"`, "DIR/model.safetensors"},
		},
		{
			name: "out-of-range offsets",
			after: func(t *testing.T, dir string) {
				overwrite(t, filepath.Join(dir, SingleFile), rawFile(
					`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)))
			},
			wantErr: []string{`tensor "a"`, "beyond the end of the data", "DIR/model.safetensors"},
		},
		{
			name: "unsupported dtype in file",
			after: func(t *testing.T, dir string) {
				overwrite(t, filepath.Join(dir, SingleFile), rawFile(
					`{"a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}}`, make([]byte, 8)))
			},
			wantErr: []string{`tensor "a"`, `dtype "I8" unsupported`, "DIR/model.safetensors"},
		},
		{
			name: "missing config.json",
			after: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, ConfigFile)); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"DIR/config.json", "no such file"},
		},
		{
			name:      "unsupported config",
			cfg:       tinyLLaDA(set("input_emb_norm", true)),
			tensorCfg: tinyLLaDA(),
			wantErr:   []string{"DIR/config.json", "input_emb_norm"},
		},
		{
			name: "no weights",
			after: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, SingleFile)); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{SingleFile, IndexFile},
		},
		{
			name:   "index points to a missing shard",
			shards: 2,
			after: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, shardName(1, 2))); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{shardName(1, 2), "DIR/" + IndexFile, "no such file"},
		},
		{
			name:   "index maps a tensor to the wrong shard",
			shards: 2,
			after: func(t *testing.T, dir string) {
				writeIndex(t, dir, map[string]string{norm: shardName(0, 2), "model.embed_tokens.weight": shardName(0, 2)})
			},
			wantErr: []string{norm, "does not hold it", shardName(0, 2)},
		},
		{
			name:   "index escapes the folder",
			shards: 2,
			after: func(t *testing.T, dir string) {
				writeIndex(t, dir, map[string]string{norm: "../" + shardName(0, 2)})
			},
			wantErr: []string{norm, "not a file name in the checkpoint folder"},
		},
		{
			name:   "index without weight_map",
			shards: 2,
			after: func(t *testing.T, dir string) {
				overwrite(t, filepath.Join(dir, IndexFile), []byte(`{"metadata": {}}`))
			},
			wantErr: []string{"weight_map missing", "DIR/" + IndexFile},
		},
		{
			name:   "index not JSON",
			shards: 2,
			after: func(t *testing.T, dir string) {
				overwrite(t, filepath.Join(dir, IndexFile), []byte(`{"weight_map": `))
			},
			wantErr: []string{"DIR/" + IndexFile},
		},
		{
			name:   "corrupt shard",
			shards: 2,
			after: func(t *testing.T, dir string) {
				overwrite(t, filepath.Join(dir, shardName(1, 2)), []byte{1, 2, 3})
			},
			wantErr: []string{"DIR/" + shardName(1, 2), "shorter than the 8-byte header length"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tc.cfg
			if cfg == nil {
				cfg = tinyDream()
			}
			tensorCfg := tc.tensorCfg
			if tensorCfg == nil {
				tensorCfg = cfg
			}
			tensors := tensorsFor(t, tensorCfg, BF16)
			if tc.tensors != nil {
				tensors = tc.tensors(tensors)
			}
			shards := max(tc.shards, 1)
			writeCheckpoint(t, dir, cfg, tensors, shards)
			if tc.after != nil {
				tc.after(t, dir)
			}
			c, err := Open(dir)
			if err == nil {
				_ = c.Close()
				t.Fatalf("Open() error = nil, want one containing %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				want = strings.ReplaceAll(want, "DIR", dir)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open() error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func writeIndex(t *testing.T, dir string, weightMap map[string]string) {
	t.Helper()
	if err := WriteIndex(filepath.Join(dir, IndexFile), weightMap, 0); err != nil {
		t.Fatal(err)
	}
}

func TestParseHeader(t *testing.T) {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	tests := []struct {
		name    string
		file    []byte
		want    map[string]tensorInfo // begin/end absolute
		wantErr string
	}{
		{name: "empty header", file: rawFile(`{}`, nil), want: map[string]tensorInfo{}},
		{
			name: "two tensors, metadata, padding",
			file: rawFile(`{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2,1],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}    `, f32(3)),
			want: map[string]tensorInfo{
				"a": {dtype: F32, shape: []int{2}, begin: 8 + 145, end: 8 + 145 + 8},
				"b": {dtype: F16, shape: []int{2, 1}, begin: 8 + 145 + 8, end: 8 + 145 + 12},
			},
		},
		{
			name: "scalar and empty tensors",
			file: rawFile(`{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"z":{"dtype":"F32","shape":[0,4],"data_offsets":[2,2]}}`, make([]byte, 2)),
			want: map[string]tensorInfo{
				"s": {dtype: BF16, shape: []int{}, begin: 8 + 109, end: 8 + 109 + 2},
				"z": {dtype: F32, shape: []int{0, 4}, begin: 8 + 109 + 2, end: 8 + 109 + 2},
			},
		},
		{name: "too short", file: []byte{1, 0, 0}, wantErr: "shorter than the 8-byte header length"},
		{name: "header over the limit", file: binary.LittleEndian.AppendUint64(nil, 1<<40), wantErr: "exceeds"},
		{name: "header beyond file", file: binary.LittleEndian.AppendUint64(nil, 10), wantErr: "beyond the end of the file"},
		{name: "not an object", file: rawFile(`[1,2]`, nil), wantErr: "not a JSON object"},
		{name: "null", file: rawFile(`null`, nil), wantErr: "not a JSON object"},
		{name: "bad JSON", file: rawFile(`{"a":`, nil), wantErr: "parse header JSON"},
		{name: "entry not an object", file: rawFile(`{"a":3}`, nil), wantErr: `tensor "a"`},
		{name: "shape missing", file: rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32(1)), wantErr: "shape missing"},
		{name: "negative shape", file: rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32(1)), wantErr: `tensor "a"`},
		{name: "unsupported dtype", file: rawFile(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, f32(2)), wantErr: `dtype "F64" unsupported`},
		{name: "offsets not a pair", file: rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, f32(1)), wantErr: "data_offsets has 1 elements"},
		{name: "offsets reversed", file: rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, f32(1)), wantErr: "end before they begin"},
		{name: "offsets beyond data", file: rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1)), wantErr: "file truncated?"},
		{name: "size mismatch", file: rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, f32(2)), wantErr: "shape [1] of F32 needs 4"},
		{name: "shape overflows", file: rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, f32(1)), wantErr: "needs more bytes than the data holds"},
		{name: "huge zero-size shape", file: rawFile(`{"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}`, nil), wantErr: "too large"},
		{name: "overlap", file: rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), wantErr: `tensor "b": data_offsets [4, 8] overlap tensor "a"`},
		{name: "same range twice", file: rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), wantErr: "overlap"},
		{name: "gap", file: rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), wantErr: "gap of 4 bytes"},
		{name: "trailing bytes", file: rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)), wantErr: "4 bytes after the last tensor"},
		{name: "metadata not strings", file: rawFile(`{"__metadata__":{"n":1}}`, nil), wantErr: "__metadata__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHeader(tc.file)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseHeader() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHeader() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got.tensors, cmp.AllowUnexported(tensorInfo{})); diff != "" {
				t.Errorf("parseHeader() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.safetensors")
	for _, ts := range [][]Tensor{nil, tensorsFor(f, tinyDream(set("num_hidden_layers", 1)), BF16)[:4]} {
		if err := WriteSafetensors(path, ts, map[string]string{"format": "pt"}); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"z":{"dtype":"F16","shape":[0],"data_offsets":[2,2]}}`, make([]byte, 2)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, file []byte) {
		h, err := parseHeader(file)
		if err != nil {
			return
		}
		// Whatever parses must be safe to slice and convert.
		for name, info := range h.tensors {
			if info.begin < 8 || info.begin > info.end || info.end > len(file) {
				t.Fatalf("tensor %q: range [%d, %d) outside the %d-byte file", name, info.begin, info.end, len(file))
			}
			tn := Tensor{Name: name, DType: info.dtype, Shape: info.shape, Data: file[info.begin:info.end]}
			if _, err := tn.Float32(); err != nil {
				t.Fatalf("Float32() of parsed tensor %q error = %v", name, err)
			}
		}
	})
}
