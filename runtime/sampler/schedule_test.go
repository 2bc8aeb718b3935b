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

package sampler

import (
	"slices"
	"testing"
)

func TestTransferCounts(t *testing.T) {
	tests := []struct {
		name     string
		m, steps int
		want     []int
	}{
		{name: "even", m: 8, steps: 4, want: []int{2, 2, 2, 2}},
		{name: "remainder goes to the leading steps", m: 10, steps: 4, want: []int{3, 3, 2, 2}},
		{name: "one step", m: 5, steps: 1, want: []int{5}},
		{name: "more steps than masks", m: 2, steps: 4, want: []int{1, 1, 0, 0}},
		{name: "one per step", m: 3, steps: 3, want: []int{1, 1, 1}},
		{name: "nothing masked", m: 0, steps: 2, want: []int{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := transferCounts(tc.m, tc.steps); !slices.Equal(got, tc.want) {
				t.Errorf("transferCounts(%d, %d) = %v, want %v", tc.m, tc.steps, got, tc.want)
			}
		})
	}
}

func TestDreamTimesteps(t *testing.T) {
	// linspace(1, 1e-3, 5) in float32, by hand: eps = float32(1e-3) = 0x1.0624dep-10;
	// step = float32((eps − 1) / 4) = −0x1.ff7ceep-3; the first half counts from 1 (1 + step),
	// the second half back from eps (eps − 2·step, eps − step, eps).
	want := []float32{1, 0x1.8020c4p-1, 0x1.00418ap-1, 0x1.00c49cp-2, 0x1.0624dep-10}
	got := dreamTimesteps(4, 1e-3)
	if !slices.Equal(got, want) {
		t.Errorf("dreamTimesteps(4, 1e-3) = %v, want %v", got, want)
	}
	if got := dreamTimesteps(1, 0); !slices.Equal(got, []float32{1, 0}) {
		t.Errorf("dreamTimesteps(1, 0) = %v, want [1 0]", got)
	}
	if got := linspace32(3, 5, 1); !slices.Equal(got, []float32{3}) {
		t.Errorf("linspace32(3, 5, 1) = %v, want [3]", got)
	}
}

func TestDreamTransferCount(t *testing.T) {
	ts := dreamTimesteps(4, 1e-3)
	// By hand from the timesteps above: 4·(1 − 0.75025) = 0.999 → 0; 4·(1 − 0.5005/0.75025) =
	// 1.3316 → 1; 3·(1 − 0.25075/0.5005) = 1.497 → 1.
	tests := []struct {
		name          string
		masked, batch int
		step          int
		want          int
	}{
		{name: "step 0 commits nothing", masked: 4, step: 0, batch: 1, want: 0},
		{name: "step 1", masked: 4, step: 1, batch: 1, want: 1},
		{name: "step 2", masked: 3, step: 2, batch: 1, want: 1},
		{name: "batch mean", masked: 4 + 2, step: 2, batch: 2, want: 1}, // 3·0.499 = 1.497
		{name: "batch mean truncates", masked: 5, step: 1, batch: 2, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := dreamTransferCount(tc.masked, tc.batch, ts[tc.step], ts[tc.step+1])
			if got != tc.want {
				t.Errorf("dreamTransferCount(%d, %d, ts[%d], ts[%d]) = %d, want %d",
					tc.masked, tc.batch, tc.step, tc.step+1, got, tc.want)
			}
		})
	}
	// With steps = max_new_tokens and eps = 1e-3 the first step commits nothing:
	// m·(1 − s/t) = m·(1 − eps)/m = 0.999 < 1.
	for _, n := range []int{1, 2, 4, 64, 256, 512, 1024} {
		ts := dreamTimesteps(n, 1e-3)
		if got := dreamTransferCount(n, 1, ts[0], ts[1]); got != 0 {
			t.Errorf("steps = max_new_tokens = %d: step 0 commits %d, want 0", n, got)
		}
	}
}
