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

package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers/autotune"
	"dllm.dev/dllm-operator/runtime/featcache"
)

// The tuner counts each decision once, when it makes it: a second reconcile within the same
// window decides and counts nothing, and the actions it has not taken read 0. The phase gauge
// marks the phase status reports, and a deleted service's series go.
func TestTunerMetrics(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	served := autotune.Settings{PromptInterval: 100, ResponseInterval: 4, TransferPercent: 25}
	pod := newRuntimePod(t, "a", featcache.Settings{PromptInterval: 100, ResponseInterval: 4, TransferRatio: 0.25})
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod.slice).Build()
	svc := testService()
	svc.Spec.Cache = v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: 100, ResponseRefreshInterval: 4,
		TransferPercent: new(int32(25)), Autotune: &v1alpha1.AutotuneSpec{Mode: v1alpha1.AutotuneModeApply,
			Bounds: v1alpha1.AutotuneBounds{ResponseRefreshInterval: &v1alpha1.IntervalRange{Min: 1, Max: 16}}}}
	name := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	tuner := &Tuner{Interval: time.Second, Metrics: NewMetrics(prometheus.NewRegistry())}

	ctx := context.Background()
	made := map[autotune.Action]int{}
	now := time.Unix(1000, 0)
	var res *tuneResult
	// Every candidate serves as fast as the best settings, so the tuner explores and rejects.
	for range 30 {
		pod.serve(40)
		var err error
		if res, err = tuner.step(ctx, c, svc, now); err != nil {
			t.Fatal(err)
		}
		for _, d := range res.decisions {
			made[d.Action]++
		}
		again, err := tuner.step(ctx, c, svc, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.decisions) != 0 {
			t.Fatalf("a second reconcile in the same window decided %v", again.decisions)
		}
		// The Pod takes the tuner's settings, as the push does.
		if s := settingsOf(res.active); s != served {
			served = s
			pod.gen = pod.m.SetCacheSettings(&featcache.Settings{PromptInterval: int(s.PromptInterval),
				ResponseInterval: int(s.ResponseInterval), TransferRatio: float64(s.TransferPercent) / 100})
		}
		now = now.Add(time.Second)
		if made[autotune.ActionExplore] >= 2 && made[autotune.ActionReject] >= 1 {
			break
		}
	}
	if made[autotune.ActionExplore] < 2 || made[autotune.ActionReject] < 1 {
		t.Fatalf("decisions %v after 30 windows; want at least two Explore and a Reject", made)
	}

	var want strings.Builder
	fmt.Fprintf(&want, "# HELP %s Decisions of the cache tuner, by DLLMService and action.\n# TYPE %[1]s counter\n", MetricAutotuneDecisions)
	for a := range made {
		if !slices.Contains(decisionActions, a) {
			t.Errorf("the tuner recorded a %s decision, which is not in decisionActions", a)
		}
	}
	for _, a := range slices.Sorted(slices.Values(decisionActions)) {
		fmt.Fprintf(&want, "%s{action=%q,namespace=%q,service=%q} %d\n", MetricAutotuneDecisions, a, svc.Namespace, svc.Name, made[a])
	}
	if err := testutil.CollectAndCompare(tuner.Metrics.decisions, strings.NewReader(want.String())); err != nil {
		t.Errorf("decisions counter against the decisions made:\n%v", err)
	}

	for _, p := range autotunePhases {
		want := 0.0
		if p == res.status.Phase {
			want = 1
		}
		if got := testutil.ToFloat64(tuner.Metrics.phase.WithLabelValues(svc.Namespace, svc.Name, string(p))); got != want {
			t.Errorf("%s{phase=%q} = %v with status phase %s, want %v", MetricAutotunePhase, p, got, res.status.Phase, want)
		}
	}

	for _, col := range []prometheus.Collector{tuner.Metrics.decisions, tuner.Metrics.phase} {
		problems, err := testutil.CollectAndLint(col)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 0 {
			t.Errorf("promlint: %v", problems)
		}
	}

	tuner.forget(name)
	if n := testutil.CollectAndCount(tuner.Metrics.decisions) + testutil.CollectAndCount(tuner.Metrics.phase); n != 0 {
		t.Errorf("%d series left after the service was deleted, want 0", n)
	}
}

// A nil *Metrics records nothing and does not panic: a Tuner without metrics still tunes.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	name := types.NamespacedName{Namespace: "ns", Name: "llada"}
	m.start(name)
	m.decision(name, autotune.ActionAccept)
	m.setPhase(name, v1alpha1.AutotunePhaseExploring)
	m.forgetPhase(name)
	m.forget(name)
}
