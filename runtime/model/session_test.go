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
	"math/rand/v2"
	"slices"
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/backendtest"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/testmodel"
)

// canvases returns n successive canvases of a batch as a sampler would produce them: the
// prompts stay, masked response positions get tokens one by one.
func canvases(n, seqLen, promptLen int, seed uint64) [][][]int {
	const mask = 288 // the test models' mask id
	r := rand.New(rand.NewPCG(seed, 3))
	base := [][]int{make([]int, seqLen), make([]int, seqLen)}
	for _, row := range base {
		for i := range row {
			row[i] = mask
			if i < promptLen {
				row[i] = r.IntN(280)
			}
		}
	}
	out := make([][][]int, n)
	for i := range out {
		out[i] = [][]int{slices.Clone(base[0]), slices.Clone(base[1])}
		for _, row := range base {
			row[promptLen+r.IntN(seqLen-promptLen)] = r.IntN(280)
		}
	}
	return out
}

// With K_p = K_r = 1 every layer of every pass recomputes everything: the cached path must
// equal the exact path bit for bit, padding and Dream's shift included.
func TestSessionExactSettingsEqualExactPath(t *testing.T) {
	for _, family := range []string{testmodel.FamilyLLaDA, testmodel.FamilyDream} {
		for _, b := range backendtest.Backends(t) {
			t.Run(family+"/"+b.Name(), func(t *testing.T) { testExactSettingsEqualExactPath(t, b, family) })
		}
	}
}

func testExactSettingsEqualExactPath(t *testing.T, b tensor.Backend, family string) {
	m, err := families.Load(b, open(t, testmodel.Options{Family: family, Seed: 21, Layers: 3}))
	if err != nil {
		t.Fatal(err)
	}
	const seqLen, promptLen = 20, 8
	pad := []int{0, 3}
	s, err := m.NewSession(2, seqLen, promptLen, pad, featcache.Exact)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i, c := range canvases(5, seqLen, promptLen, 1) {
		want, err := m.Logits(ctx, c, pad, promptLen, seqLen)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Logits(ctx, c, pad, promptLen, seqLen)
		if err != nil {
			t.Fatal(err)
		}
		for r := range want {
			if !slices.Equal(got[r], want[r]) {
				t.Fatalf("forward %d row %d: cached logits differ from the exact path (max %g)", i+1, r, maxDiff(got[r], want[r]))
			}
		}
	}
	st := s.Stats()
	if st.Forwards != 5 || st.FLOPs != st.ExactFLOPs || st.ReusedRows != 0 {
		t.Errorf("stats %+v: want 5 forwards, FLOPs == ExactFLOPs, nothing reused", st)
	}
	if st.ReferenceFLOPs <= st.ExactFLOPs {
		t.Errorf("reference FLOPs %d should exceed ours %d (logits at every position)", st.ReferenceFLOPs, st.ExactFLOPs)
	}
}

// A model hands the buffers of closed sessions and finished passes to later ones: whatever
// they held before, a second session over the same canvases returns the first one's logits
// bit for bit, and so does the exact path.
func TestSessionsReuseBuffersWithoutLeaks(t *testing.T) {
	m := load(t, testmodel.Options{Family: testmodel.FamilyDream, Seed: 24, Layers: 2})
	set := featcache.Settings{PromptInterval: 3, ResponseInterval: 2, TransferRatio: 0.25}
	cs := canvases(5, 14, 5, 4)
	pad := []int{0, 2}
	run := func() [][]float32 {
		s, err := m.NewSession(2, 14, 5, pad, set)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		all := make([][]float32, 0, 2*len(cs))
		for _, c := range cs {
			out, err := s.Logits(context.Background(), c, pad, 5, 14)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, slices.Clone(out[0]), slices.Clone(out[1]))
		}
		return all
	}
	first := run()
	exact, err := m.Logits(context.Background(), cs[0], pad, 5, 14)
	if err != nil {
		t.Fatal(err)
	}
	second := run()
	for i := range first {
		if !slices.Equal(first[i], second[i]) {
			t.Fatalf("logits %d of a second session differ from the first's", i)
		}
	}
	again, err := m.Logits(context.Background(), cs[0], pad, 5, 14)
	if err != nil {
		t.Fatal(err)
	}
	for r := range exact {
		if !slices.Equal(exact[r], again[r]) {
			t.Fatalf("exact logits of row %d changed after sessions reused the buffers", r)
		}
	}
}

// When the canvas does not change, reused features are exactly the fresh ones: every
// setting gives the logits of the first pass again.
func TestSessionReuseOfAnUnchangedCanvas(t *testing.T) {
	for _, set := range []featcache.Settings{
		{PromptInterval: 100, ResponseInterval: 100},
		{PromptInterval: 3, ResponseInterval: 2},
		{PromptInterval: 100, ResponseInterval: 100, TransferRatio: 0.5},
		{PromptInterval: 2, ResponseInterval: 100, TransferRatio: 0.25, PartialV: true},
	} {
		for _, family := range []string{testmodel.FamilyLLaDA, testmodel.FamilyDream} {
			m := load(t, testmodel.Options{Family: family, Seed: 22, Layers: 3})
			c := canvases(1, 16, 6, 2)[0]
			s, err := m.NewSession(2, 16, 6, nil, set)
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.Logits(context.Background(), c, nil, 6, 16)
			if err != nil {
				t.Fatal(err)
			}
			first := [][]float32{slices.Clone(out[0]), slices.Clone(out[1])} // the next pass reuses out
			for pass := 2; pass <= 4; pass++ {
				got, err := s.Logits(context.Background(), c, nil, 6, 16)
				if err != nil {
					t.Fatal(err)
				}
				for r := range got {
					if d := maxDiff(got[r], first[r]); d > 1e-5 {
						t.Errorf("%s %+v pass %d row %d: logits moved by %g on an unchanged canvas", family, set, pass, r, d)
					}
				}
			}
			st := s.Stats()
			if st.FLOPs >= st.ExactFLOPs || st.ReusedRows == 0 {
				t.Errorf("%s %+v: stats %+v, want fewer FLOPs than the exact path and reused rows", family, set, st)
			}
			s.Close()
		}
	}
}

// The cache changes logits only a little when the canvas changes a little (it is an
// approximation), and refreshing brings it back to the exact values.
func TestSessionRefreshRestoresExactLogits(t *testing.T) {
	m := load(t, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 23, Layers: 3})
	set := featcache.Settings{PromptInterval: 4, ResponseInterval: 4, TransferRatio: 0.25}
	s, err := m.NewSession(2, 18, 6, nil, set)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i, c := range canvases(9, 18, 6, 3) {
		got, err := s.Logits(ctx, c, nil, 6, 18)
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Logits(ctx, c, nil, 6, 18)
		if err != nil {
			t.Fatal(err)
		}
		d := max(maxDiff(got[0], want[0]), maxDiff(got[1], want[1]))
		if forward := i + 1; (forward-1)%4 == 0 && d != 0 {
			t.Errorf("forward %d refreshes everything but differs from the exact path by %g", forward, d)
		}
	}
}

func TestSessionRejectsBadInput(t *testing.T) {
	m := load(t, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 24})
	if _, err := m.NewSession(1, 8, 8, nil, featcache.Exact); !errors.Is(err, model.ErrInput) {
		t.Errorf("NewSession with no response = %v, want ErrInput", err)
	}
	if _, err := m.NewSession(1, 8, 4, nil, featcache.Settings{}); err == nil {
		t.Errorf("NewSession with zero intervals succeeded")
	}
	s, err := m.NewSession(1, 8, 4, nil, featcache.Exact)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"other length":    func() error { _, err := s.Logits(ctx, [][]int{make([]int, 9)}, nil, 4, 8); return err },
		"two rows":        func() error { _, err := s.Logits(ctx, [][]int{make([]int, 8), make([]int, 8)}, nil, 4, 8); return err },
		"from the prompt": func() error { _, err := s.Logits(ctx, [][]int{make([]int, 8)}, nil, 3, 8); return err },
		"new padding":     func() error { _, err := s.Logits(ctx, [][]int{make([]int, 8)}, []int{1}, 4, 8); return err },
	} {
		if err := call(); !errors.Is(err, model.ErrInput) {
			t.Errorf("%s: %v, want ErrInput", name, err)
		}
	}
}
