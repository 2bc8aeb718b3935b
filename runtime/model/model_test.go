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

package model_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/dream"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/model/llada"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/weights"
)

// open writes a tiny checkpoint of family with seed and opens it.
func open(t *testing.T, o testmodel.Options) *weights.Checkpoint {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, o); err != nil {
		t.Fatalf("testmodel.Write(%+v) = %v", o, err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatalf("weights.Open = %v", err)
	}
	t.Cleanup(func() { _ = ck.Close() })
	return ck
}

func load(t *testing.T, o testmodel.Options) *model.Model {
	t.Helper()
	m, err := families.Load(cpu.New(), open(t, o))
	if err != nil {
		t.Fatalf("families.Load = %v", err)
	}
	return m
}

// maxDiff returns the largest absolute difference of two equal-length slices.
func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// A row's logits must not depend on the batch it runs in: padding is masked and positions count
// from the first real token.
func TestBatchInvariance(t *testing.T) {
	for _, family := range []string{testmodel.FamilyLLaDA, testmodel.FamilyDream} {
		t.Run(family, func(t *testing.T) {
			m := load(t, testmodel.Options{Family: family, Seed: 3})
			ctx := context.Background()
			short := []int{10, 20, 30, 40, 50}
			long := []int{1, 2, 3, 4, 5, 6, 7, 8}
			alone, err := m.Logits(ctx, [][]int{short}, nil, 0, len(short))
			if err != nil {
				t.Fatal(err)
			}
			pad := len(long) - len(short)
			padded := append([]int{99, 98, 97}, short...)
			batch, err := m.Logits(ctx, [][]int{long, padded}, []int{0, pad}, 0, len(long))
			if err != nil {
				t.Fatal(err)
			}
			longAlone, err := m.Logits(ctx, [][]int{long}, nil, 0, len(long))
			if err != nil {
				t.Fatal(err)
			}
			v := m.Vocab()
			if d := maxDiff(batch[1][pad*v:], alone[0]); d > 1e-5 {
				t.Errorf("padded row differs from the row alone by %g", d)
			}
			if d := maxDiff(batch[0], longAlone[0]); d > 1e-5 {
				t.Errorf("unpadded row differs from the row alone by %g", d)
			}
		})
	}
}

// Dream predicts position i from the hidden state at i−1; LLaDA predicts it from i.
func TestDreamLogitShift(t *testing.T) {
	ck := open(t, testmodel.Options{Family: testmodel.FamilyDream, Seed: 4})
	b := cpu.New()
	shifted, err := dream.Load(b, ck)
	if err != nil {
		t.Fatal(err)
	}
	arch := dream.Arch(ck.Config)
	arch.ShiftLogits = false
	plain, err := model.Load(b, ck, arch, dream.Names(ck.Config))
	if err != nil {
		t.Fatal(err)
	}
	ids := [][]int{{5, 6, 7, 8, 289, 289}}
	s, err := shifted.Logits(context.Background(), ids, nil, 0, len(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plain.Logits(context.Background(), ids, nil, 0, len(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	v := shifted.Vocab()
	if d := maxDiff(s[0][:v], p[0][:v]); d != 0 {
		t.Errorf("position 0 should keep its own logits; differs by %g", d)
	}
	for i := 1; i < len(ids[0]); i++ {
		if d := maxDiff(s[0][i*v:(i+1)*v], p[0][(i-1)*v:i*v]); d != 0 {
			t.Errorf("shifted position %d differs from unshifted position %d by %g", i, i-1, d)
		}
	}
}

// Logits of a span of positions are exactly that part of the full logits, for both families and
// with padding (the LM head runs only on the rows it needs).
func TestLogitsSpan(t *testing.T) {
	for _, family := range []string{testmodel.FamilyLLaDA, testmodel.FamilyDream} {
		t.Run(family, func(t *testing.T) {
			m := load(t, testmodel.Options{Family: family, Seed: 10})
			canvas, pad := [][]int{{7, 8, 9, 10, 11, 12}, {0, 0, 3, 4, 5, 6}}, []int{0, 2}
			all, err := m.Forward(context.Background(), canvas, pad, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := m.Vocab()
			for _, span := range [][2]int{{0, 6}, {1, 6}, {2, 4}, {3, 6}, {5, 6}, {0, 1}} {
				from, to := span[0], span[1]
				part, err := m.Logits(context.Background(), canvas, pad, from, to)
				if err != nil {
					t.Fatal(err)
				}
				for r := range canvas {
					want := all[r][from*v : to*v]
					if d := maxDiff(part[r], want); len(part[r]) != len(want) || d > 1e-6 {
						t.Errorf("row %d [%d, %d): %d logits differing by %g from the full forward's", r, from, to, len(part[r]), d)
					}
				}
			}
		})
	}
}

// Every position attends to every other: changing a later token changes an earlier position's
// logits (a causal model would not).
func TestBidirectional(t *testing.T) {
	m := load(t, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 5})
	a, err := m.Logits(context.Background(), [][]int{{1, 2, 3, 4}, {1, 2, 3, 200}}, nil, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(a[0][:m.Vocab()], a[1][:m.Vocab()]); d == 0 {
		t.Errorf("position 0 did not see position 3")
	}
}

func TestHookSeesEveryLayer(t *testing.T) {
	m := load(t, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 6, Layers: 3})
	var seen []int
	_, err := m.Forward(context.Background(), [][]int{{1, 2, 3}}, nil, func(layer int, h *tensor.Tensor) error {
		if h.Dim(0) != 3 || h.Dim(1) != m.Arch().Hidden {
			t.Errorf("layer %d hidden shape %v", layer, h.Shape())
		}
		seen = append(seen, layer)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3}; !slices.Equal(seen, want) {
		t.Errorf("hook saw layers %v, want %v", seen, want)
	}
	stop := errors.New("stop")
	_, err = m.Forward(context.Background(), [][]int{{1, 2, 3}}, nil, func(int, *tensor.Tensor) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Forward with a failing hook = %v, want it wrapped", err)
	}
}

func TestLogitsRejectsBadInput(t *testing.T) {
	m := load(t, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 7})
	tests := []struct {
		name   string
		canvas [][]int
		pad    []int
		want   string
	}{
		{"empty", nil, nil, "empty canvas"},
		{"empty row", [][]int{{}}, nil, "empty canvas"},
		{"ragged", [][]int{{1, 2}, {1}}, nil, "row 1 has 1 positions"},
		{"id too large", [][]int{{1, 320}}, nil, "token id 320 outside [0, 320)"},
		{"negative id", [][]int{{-1}}, nil, "token id -1"},
		{"pad count mismatch", [][]int{{1, 2}}, []int{0, 0}, "2 pad counts for 1 rows"},
		{"all padding", [][]int{{1, 2}}, []int{2}, "2 padding positions in a row of 2"},
	}
	if _, err := m.Logits(context.Background(), [][]int{{1, 2}}, nil, 2, 2); !errors.Is(err, model.ErrInput) {
		t.Errorf("Logits from past the end = %v, want ErrInput", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Logits(context.Background(), tc.canvas, tc.pad, 0, 1)
			if !errors.Is(err, model.ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Logits = %v, want ErrInput mentioning %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Logits(ctx, [][]int{{1}}, nil, 0, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Logits with a cancelled context = %v", err)
	}
}

// mapSource is an in-memory checkpoint for load-error tests.
type mapSource map[string]weights.Tensor

func (s mapSource) Tensor(name string) (weights.Tensor, error) {
	t, ok := s[name]
	if !ok {
		return weights.Tensor{}, weights.ErrNotFound
	}
	return t, nil
}

func TestLoadErrorsNameTheTensor(t *testing.T) {
	ck := open(t, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 8})
	src := mapSource{}
	for _, n := range ck.Names() {
		x, err := ck.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		src[n] = x
	}
	arch, names := llada.Arch(ck.Config), llada.Names(ck.Config)
	if _, err := model.Load(cpu.New(), src, arch, names); err != nil {
		t.Fatalf("Load of a complete source = %v", err)
	}
	missing := "model.transformer.blocks.1.up_proj.weight"
	delete(src, missing)
	if _, err := model.Load(cpu.New(), src, arch, names); !errors.Is(err, weights.ErrNotFound) {
		t.Errorf("Load without %s = %v, want ErrNotFound", missing, err)
	}
	wrong := "model.transformer.blocks.0.q_proj.weight"
	src[missing] = src[wrong]
	src[wrong] = src["model.transformer.blocks.0.ff_proj.weight"]
	_, err := model.Load(cpu.New(), src, arch, names)
	if err == nil || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "shape") {
		t.Errorf("Load with a mis-shaped %s = %v, want an error naming it", wrong, err)
	}
	bad := arch
	bad.HeadDim = 7
	if _, err := model.Load(cpu.New(), src, bad, names); err == nil || !strings.Contains(err.Error(), "head dim") {
		t.Errorf("Load with an invalid arch = %v", err)
	}
}

func TestFamilyMismatch(t *testing.T) {
	ck := open(t, testmodel.Options{Family: testmodel.FamilyDream, Seed: 9})
	if _, err := llada.Load(cpu.New(), ck); err == nil {
		t.Errorf("llada.Load of a Dream checkpoint succeeded")
	}
}

func TestFLOPs(t *testing.T) {
	a := model.Arch{Hidden: 4096, Layers: 32, Heads: 32, KVHeads: 32, HeadDim: 128, Intermediate: 12288, Vocab: 126464}
	// LLaDA 8B has 8.016e9 parameters, 0.518e9 of them in the embedding table (a lookup, not
	// a product): 2 FLOPs per remaining weight per token.
	perToken := float64(a.FLOPs(1))
	if want := 2 * (8.016e9 - 126464*4096); math.Abs(perToken-want)/want > 0.01 {
		t.Errorf("LLaDA-8B FLOPs per token = %g, want %g", perToken, want)
	}
	if a.FLOPs(2) <= 2*a.FLOPs(1) {
		t.Errorf("attention FLOPs should grow quadratically")
	}
}
