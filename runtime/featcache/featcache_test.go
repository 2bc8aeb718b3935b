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

package featcache_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/runtime/featcache"
)

// The reference's schedule (dllm-cache-spec.md §1.3): with K_p = 50 the prompt refreshes at
// forwards 1, 51, 101, ...; with K_r = 7 the response at 1, 8, 15, ...
func TestScheduleMatchesReference(t *testing.T) {
	sc := featcache.NewSchedule(featcache.Settings{PromptInterval: 50, ResponseInterval: 7})
	var prompt, response []int
	for range 120 {
		r := sc.Next(false)
		if r.Prompt {
			prompt = append(prompt, r.Forward)
		}
		if r.Response {
			response = append(response, r.Forward)
		}
		if p, g := r.Layer(0); !p || !g {
			t.Fatalf("forward %d: layer 0 must always refresh", r.Forward)
		}
		if p, g := r.Layer(3); p != r.Prompt || g != r.Response {
			t.Fatalf("forward %d: layer 3 refresh %v %v, want %v %v", r.Forward, p, g, r.Prompt, r.Response)
		}
	}
	if want := []int{1, 51, 101}; !slices.Equal(prompt, want) {
		t.Errorf("prompt refreshes at %v, want %v", prompt, want)
	}
	if want := []int{1, 8, 15, 22, 29, 36, 43, 50, 57, 64, 71, 78, 85, 92, 99, 106, 113, 120}; !slices.Equal(response, want) {
		t.Errorf("response refreshes at %v, want %v", response, want)
	}
}

func TestScheduleBlocks(t *testing.T) {
	for _, atBlocks := range []bool{false, true} {
		sc := featcache.NewSchedule(featcache.Settings{PromptInterval: 100, ResponseInterval: 100, RefreshAtBlocks: atBlocks})
		sc.Next(true) // forward 1 refreshes anyway
		sc.Next(false)
		r := sc.Next(true)
		if r.Forward != 3 || r.Prompt != atBlocks || r.Response != atBlocks {
			t.Errorf("RefreshAtBlocks=%v: forward 3 at a block start = %+v", atBlocks, r)
		}
	}
	exact := featcache.NewSchedule(featcache.Exact)
	for range 5 {
		if r := exact.Next(false); !r.Prompt || !r.Response {
			t.Errorf("Exact settings skipped a refresh at forward %d", r.Forward)
		}
	}
}

func TestTransferCount(t *testing.T) {
	tests := []struct {
		gen  int
		rho  float64
		want int
	}{
		{256, 0.25, 64}, {3, 0.25, 0}, {32, 0.25, 8}, {10, 0.33, 3}, {7, 1, 7}, {7, 0, 0},
	}
	for _, tc := range tests {
		if got := (featcache.Settings{TransferRatio: tc.rho}).TransferCount(tc.gen); got != tc.want {
			t.Errorf("TransferCount(G=%d, rho=%v) = %d, want %d", tc.gen, tc.rho, got, tc.want)
		}
	}
}

func TestLeastSimilar(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		sim  []float32
		k    int
		want []int
	}{
		{"two least", []float32{0.9, 0.1, 0.5, 0.2}, 2, []int{1, 3}},
		{"none", []float32{0.9, 0.1}, 0, []int{}},
		{"all", []float32{0.9, 0.1}, 5, []int{0, 1}},
		{"ties to the lower index", []float32{0.5, 0.5, 0.5, 0.1}, 2, []int{0, 3}},
		{"NaN first", []float32{0.1, nan, 0.2}, 1, []int{1}},
		{"negative k", []float32{0.1}, -1, []int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := featcache.LeastSimilar(tc.sim, tc.k); !slices.Equal(got, tc.want) {
				t.Errorf("LeastSimilar(%v, %d) = %v, want %v", tc.sim, tc.k, got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	err := featcache.Settings{PromptInterval: 0, ResponseInterval: -1, TransferRatio: math.NaN()}.Validate()
	for _, field := range []string{"cache-prompt-interval 0", "cache-response-interval -1", "cache-transfer-ratio NaN"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want it to name %q", err, field)
		}
	}
	if err := (featcache.Settings{PromptInterval: 100, ResponseInterval: 7, TransferRatio: 0.25}).Validate(); err != nil {
		t.Errorf("Validate() of the demo settings = %v", err)
	}
}
