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
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/telemetry"
)

// runtimePod is a runtime's real metrics registry behind a local server, listed in an
// EndpointSlice of the service, as the tuner finds it.
type runtimePod struct {
	m     *telemetry.Metrics
	gen   int
	slice *discoveryv1.EndpointSlice
}

func newRuntimePod(t *testing.T, name string, s featcache.Settings) *runtimePod {
	t.Helper()
	p := &runtimePod{m: telemetry.New(func() engine.Load { return engine.Load{Slots: 1} })}
	p.gen = p.m.SetCacheSettings(&s)
	mux := http.NewServeMux()
	mux.Handle(contract.MetricsPath, p.m.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	p.slice = &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "llada"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new(contract.PortName), Port: new(int32(n))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)}}},
	}
	return p
}

// serve records n requests, half of them shadow-checked with full agreement.
func (p *runtimePod) serve(n int) {
	for i := range n {
		p.m.Request(20*time.Millisecond, 0, 16, 30, 16)
		if i%2 == 0 {
			p.m.Shadow(p.gen, telemetry.ShadowResult{Compared: 16, Agreed: 16})
		}
	}
}

// The tuner's step on real runtime metrics: in Recommend mode the Pods keep the spec's
// settings and the tuner only reports what it would try; in Apply mode it moves to the
// candidate; frozen, it scrapes nothing and keeps its settings.
func TestTunerStep(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []v1alpha1.AutotuneMode{v1alpha1.AutotuneModeRecommend, v1alpha1.AutotuneModeApply} {
		t.Run(string(mode), func(t *testing.T) {
			spec := featcache.Settings{PromptInterval: 100, ResponseInterval: 4, TransferRatio: 0.25}
			pod := newRuntimePod(t, "a", spec)
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod.slice).Build()
			svc := testService()
			svc.Namespace = "ns"
			svc.Spec.Cache = v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: 100, ResponseRefreshInterval: 4,
				TransferPercent: new(int32(25)), Autotune: &v1alpha1.AutotuneSpec{Mode: mode,
					Bounds: v1alpha1.AutotuneBounds{ResponseRefreshInterval: &v1alpha1.IntervalRange{Min: 1, Max: 16}}}}
			tuner := &Tuner{Interval: time.Second}
			now := time.Unix(1000, 0)
			var res *tuneResult
			var explored bool
			for range 12 {
				pod.serve(40)
				var err error
				if res, err = tuner.step(context.Background(), c, svc, now); err != nil {
					t.Fatal(err)
				}
				now = now.Add(time.Second)
				for _, d := range res.decisions {
					explored = explored || d.Action == "Explore"
				}
				if explored {
					break
				}
			}
			if !explored {
				t.Fatalf("no exploration after 12 windows; status %+v", res.status)
			}
			if res.apply != (mode == v1alpha1.AutotuneModeApply) {
				t.Errorf("apply = %v in %s mode", res.apply, mode)
			}
			if len(res.status.LastDecisions) == 0 || res.status.Observed == nil || res.status.Observed.Requests != 40 {
				t.Errorf("status %+v: want the decision and the last window of 40 requests", res.status)
			}
			switch mode {
			case v1alpha1.AutotuneModeRecommend:
				if res.active.ResponseRefreshInterval != 4 || res.status.Candidate != nil {
					t.Errorf("Recommend mode moved: active %+v, candidate %+v", res.active, res.status.Candidate)
				}
			case v1alpha1.AutotuneModeApply:
				if res.active.ResponseRefreshInterval != 5 || len(res.stale) != 1 {
					t.Errorf("Apply mode: active %+v, stale Pods %v; want the candidate K_r 5, to push to the Pod", res.active, res.stale)
				}
			}

			svc.Annotations = map[string]string{v1alpha1.AnnotationAutotuneFreeze: "true"}
			frozen, err := tuner.step(context.Background(), c, svc, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if frozen.status.Phase != v1alpha1.AutotunePhaseFrozen || len(frozen.decisions) != 0 || settingsOf(frozen.active) != settingsOf(res.active) {
				t.Errorf("frozen: phase %s, %d decisions, active %+v (was %+v)", frozen.status.Phase, len(frozen.decisions), frozen.active, res.active)
			}
		})
	}
}
