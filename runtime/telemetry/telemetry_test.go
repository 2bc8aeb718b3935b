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

	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/telemetry"
)

// Settings changes bump the generation and leave one active series; batches add their cache
// counts once, exact-path batches none.
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
	m.Batch(engine.BatchReport{Requests: 1, Stats: model.Stats{FLOPs: 5}})
	want := `
# HELP dllm_cache_settings_info 1 for the active cache settings and their generation.
# TYPE dllm_cache_settings_info gauge
dllm_cache_settings_info{enabled="true",generation="2",prompt_interval="50",response_interval="7",transfer_percent="25"} 1
# HELP dllm_flops_saved_total Floating-point operations the feature cache avoided against the exact path.
# TYPE dllm_flops_saved_total counter
dllm_flops_saved_total 300
# HELP dllm_queue_depth Requests waiting for a batch slot.
# TYPE dllm_queue_depth gauge
dllm_queue_depth 2
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"dllm_cache_settings_info", "dllm_flops_saved_total", "dllm_queue_depth"); err != nil {
		t.Error(err)
	}
}
