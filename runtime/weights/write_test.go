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
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteSafetensorsLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	b, err := FromFloat32("b", F16, []int{3}, []float32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	a, err := FromFloat32("a", F32, []int{1, 2}, []float32{-1, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	scalar, err := FromFloat32("c", BF16, nil, []float32{7})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(path, []Tensor{b, scalar, a}, map[string]string{"format": "pt"}); err != nil {
		t.Fatalf("WriteSafetensors() error = %v", err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(file)
	if n%8 != 0 {
		t.Errorf("header length = %d, want a multiple of 8", n)
	}
	js := file[8 : 8+n]
	if trimmed := strings.TrimRight(string(js), " "); len(js)-len(trimmed) >= 8 {
		t.Errorf("header padded with %d spaces, want fewer than 8", len(js)-len(trimmed))
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	// Sorted by name: a (8 bytes), b (6 bytes), c (2 bytes).
	want := map[string]any{
		"__metadata__": map[string]any{"format": "pt"},
		"a":            map[string]any{"dtype": "F32", "shape": []any{1.0, 2.0}, "data_offsets": []any{0.0, 8.0}},
		"b":            map[string]any{"dtype": "F16", "shape": []any{3.0}, "data_offsets": []any{8.0, 14.0}},
		"c":            map[string]any{"dtype": "BF16", "shape": []any{}, "data_offsets": []any{14.0, 16.0}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	if wantLen := 8 + int(n) + 16; len(file) != wantLen {
		t.Errorf("file length = %d, want %d", len(file), wantLen)
	}
	if got, want := file[8+n:], slices.Concat(a.Data, b.Data, scalar.Data); !slices.Equal(got, want) {
		t.Errorf("data = %x, want %x", got, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("Stat(%q) = %v, %v, want mode 0644", path, fi.Mode(), err)
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	ok := Tensor{Name: "a", DType: F32, Shape: []int{1}, Data: make([]byte, 4)}
	tests := []struct {
		name    string
		tensors []Tensor
		wantErr string
	}{
		{"duplicate name", []Tensor{ok, ok}, `tensor "a" given twice`},
		{"empty name", []Tensor{{DType: F32, Shape: []int{1}, Data: make([]byte, 4)}}, "reserved"},
		{"metadata name", []Tensor{{Name: "__metadata__", DType: F32, Shape: []int{1}, Data: make([]byte, 4)}}, "reserved"},
		{"bad dtype", []Tensor{{Name: "a", Shape: []int{1}, Data: make([]byte, 4)}}, "dtype unknown unsupported"},
		{"negative dim", []Tensor{{Name: "a", DType: F32, Shape: []int{-1}}}, "negative dimension"},
		{"short data", []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, "4 bytes of data, want 8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.safetensors")
			err := WriteSafetensors(path, tc.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("WriteSafetensors() error = %v, want one naming %q and containing %q", err, path, tc.wantErr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("WriteSafetensors() left %d files after an error, want none", len(entries))
			}
		})
	}
}

func TestWriteSafetensorsReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	for _, v := range []float32{1, 2} {
		tn, err := FromFloat32("w", F32, []int{1}, []float32{v})
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteSafetensors(path, []Tensor{tn}, nil); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "x.safetensors" {
		t.Errorf("folder holds %v, want only x.safetensors", entries)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(file)
	if err != nil {
		t.Fatal(err)
	}
	w := h.tensors["w"]
	got, err := Tensor{Name: "w", DType: w.dtype, Shape: w.shape, Data: file[w.begin:w.end]}.Float32()
	if err != nil || !slices.Equal(got, []float32{2}) {
		t.Errorf("rewritten tensor = %v, %v, want [2]", got, err)
	}
	if err := WriteSafetensors(filepath.Join(dir, "missing", "y.safetensors"), nil, nil); err == nil {
		t.Error("WriteSafetensors() into a missing folder error = nil, want an error")
	}
}

func TestTensorConversionErrors(t *testing.T) {
	tests := []struct {
		name    string
		tensor  Tensor
		dst     int
		wantErr string
	}{
		{"wrong destination", Tensor{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 8)}, 3, "destination has 3 elements, want 2"},
		{"short data", Tensor{Name: "a", DType: BF16, Shape: []int{2}, Data: make([]byte, 3)}, 2, "3 bytes of data, want 4"},
		{"unknown dtype", Tensor{Name: "a", Shape: []int{2}, Data: make([]byte, 8)}, 2, "unsupported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.tensor.ToFloat32(make([]float32, tc.dst))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ToFloat32() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := FromFloat32("a", F32, []int{2}, []float32{1}); err == nil {
		t.Error("FromFloat32() with too few values error = nil, want an error")
	}
	if _, err := FromFloat32("a", F32, []int{-1}, nil); err == nil {
		t.Error("FromFloat32() with a negative dimension error = nil, want an error")
	}
	if _, err := FromFloat32("a", DTypeUnknown, []int{1}, []float32{1}); err == nil {
		t.Error("FromFloat32() with an unknown dtype error = nil, want an error")
	}
}

func TestWriteIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), IndexFile)
	if err := WriteIndex(path, map[string]string{"b": "s2", "a": "s1"}, 42); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"metadata":   map[string]any{"total_size": 42.0},
		"weight_map": map[string]any{"a": "s1", "b": "s2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index mismatch (-want +got):\n%s", diff)
	}
}
