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

package telemetry_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/telemetry"
)

// Settings changes bump the generation and leave one active series; batches add their cache
// counts once, and exact-path batches their FLOPs spent, with nothing saved.
func TestSettingsAndBatches(t *testing.T) {
	m := telemetry.New(func() engine.Load { return engine.Load{Queued: 2, InFlight: 1} })
	if g := m.SetCacheSettings(nil); g != 1 {
		t.Errorf("first generation %d", g)
	}
	if g := m.SetCacheSettings(&featcache.Settings{PromptInterval: 50, ResponseInterval: 7, TransferRatio: 0.25}); g != 2 {
		t.Errorf("second generation %d", g)
	}
	m.Batch(engine.BatchReport{Requests: 2, Cached: true, Stats: model.Stats{FLOPs: 100, ExactFLOPs: 400,
		RecomputedRows: 3, ReusedRows: 9, PromptRefreshes: 1, ResponseRefreshes: 2}})
	m.Batch(engine.BatchReport{Requests: 1, Stats: model.Stats{FLOPs: 5, ExactFLOPs: 5}})
	want := `
# HELP dllm_cache_settings_info 1 for the active cache settings and their generation.
# TYPE dllm_cache_settings_info gauge
dllm_cache_settings_info{enabled="true",generation="2",prompt_interval="50",response_interval="7",transfer_percent="25"} 1
# HELP dllm_flops_saved_total Floating-point operations the feature cache avoided against the exact path.
# TYPE dllm_flops_saved_total counter
dllm_flops_saved_total 300
# HELP dllm_flops_spent_total Floating-point operations executed by forward passes.
# TYPE dllm_flops_spent_total counter
dllm_flops_spent_total 105
# HELP dllm_queue_depth Requests waiting for a batch slot.
# TYPE dllm_queue_depth gauge
dllm_queue_depth 2
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"dllm_cache_settings_info", "dllm_flops_saved_total", "dllm_flops_spent_total", "dllm_queue_depth"); err != nil {
		t.Error(err)
	}
}

// The load gauges report the engine's Load at scrape time, slot usage and saturation included.
func TestLoadGauges(t *testing.T) {
	m := telemetry.New(func() engine.Load {
		return engine.Load{Queued: 3, InFlight: 2, Slots: 8, PendingSteps: 640, DemandRate: 300, CapacityRate: 200, Saturation: 1.5}
	})
	want := `
# HELP dllm_capacity_steps_per_second Row-steps per second delivered while busy over the last 30 s.
# TYPE dllm_capacity_steps_per_second gauge
dllm_capacity_steps_per_second 200
# HELP dllm_pending_steps Denoising row-steps admitted requests still need.
# TYPE dllm_pending_steps gauge
dllm_pending_steps 640
# HELP dllm_saturation_ratio Demand over capacity in row-steps per second: above 1 the pod cannot keep up.
# TYPE dllm_saturation_ratio gauge
dllm_saturation_ratio 1.5
# HELP dllm_slot_usage_ratio Requests being denoised over the most denoised at once (feature-cache slots in use).
# TYPE dllm_slot_usage_ratio gauge
dllm_slot_usage_ratio 0.25
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), "dllm_capacity_steps_per_second",
		"dllm_pending_steps", "dllm_saturation_ratio", "dllm_slot_usage_ratio"); err != nil {
		t.Error(err)
	}
}

// Shadow results count by generation; only the latest generations keep series, and a late
// result for a dropped generation does not bring its series back.
func TestShadowGenerationsStayBounded(t *testing.T) {
	m := telemetry.New(func() engine.Load { return engine.Load{} })
	first := m.SetCacheSettings(&featcache.Settings{PromptInterval: 10, ResponseInterval: 2})
	m.Shadow(first, telemetry.ShadowResult{Compared: 10, Agreed: 9, Top1Compared: 20, Top1Agreed: 15})
	want := `
# HELP dllm_shadow_top1_agreed_total Compared top-1 predictions that were equal, by generation.
# TYPE dllm_shadow_top1_agreed_total counter
dllm_shadow_top1_agreed_total{generation="1"} 15
# HELP dllm_shadow_tokens_agreed_total Compared response tokens that were equal, by generation.
# TYPE dllm_shadow_tokens_agreed_total counter
dllm_shadow_tokens_agreed_total{generation="1"} 9
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"dllm_shadow_top1_agreed_total", "dllm_shadow_tokens_agreed_total"); err != nil {
		t.Error(err)
	}
	for range 3 * contract.ShadowGenerationsKept {
		g := m.SetCacheSettings(&featcache.Settings{PromptInterval: 10, ResponseInterval: 2})
		m.Shadow(g, telemetry.ShadowResult{Compared: 4, Agreed: 4, Top1Compared: 4, Top1Agreed: 3})
	}
	m.Shadow(first, telemetry.ShadowResult{Compared: 10, Agreed: 9})
	for _, name := range []string{"dllm_shadow_requests_total", "dllm_shadow_top1_agreement_ratio", "dllm_shadow_token_agreement_ratio"} {
		if n, err := testutil.GatherAndCount(m.Gatherer(), name); err != nil || n != contract.ShadowGenerationsKept {
			t.Errorf("%s has %d series (err %v), want %d", name, n, err, contract.ShadowGenerationsKept)
		}
	}
}
