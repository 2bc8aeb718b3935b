//go:build integration

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

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers/observe"
	"dllm.dev/dllm-operator/controllers/render"
	"dllm.dev/dllm-operator/runtime/contract"
)

// TestAutotuneOnRealRuntimePods runs the operator against two real runtime Pods under load:
// the tuner explores and accepts faster settings, which every Pod then runs, a Pod deleted
// mid-tuning comes back with the tuned settings, raising the floor above what the cache holds
// reverts, no request fails while settings change, and an autoscaled service gets its HPA.
func TestAutotuneOnRealRuntimePods(t *testing.T) {
	e := setup(t, filepath.Join("..", "..", "config", "crd", "bases"))
	ctx, root, c, cs, scheme := e.ctx, e.root, e.cluster, e.cs, e.scheme
	e.startManager(t, c.Config, "dllm-runtime:e2e", nil)
	k8s, err := client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	// The shipped tiny trained model, two replicas, tuned from the slowest settings: the
	// uncached path's output exactly (K_p 1, K_r 1) with half the response transferred.
	svc := &v1alpha1.DLLMService{
		ObjectMeta: metav1.ObjectMeta{Name: "tiny", Namespace: "default"},
		Spec: v1alpha1.DLLMServiceSpec{
			Model:      v1alpha1.ModelSpec{Family: v1alpha1.ModelFamilyLLaDA, Source: "file://" + filepath.Join(root, "models", "tiny-tasks")},
			Replicas:   new(int32(2)),
			Runtime:    v1alpha1.RuntimeSpec{Backend: v1alpha1.BackendCPU},
			Generation: v1alpha1.GenerationSpec{Steps: 16, GenLength: 16, BlockLength: 16},
			Cache: v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: 1, ResponseRefreshInterval: 1,
				TransferPercent: new(int32(50)),
				Autotune: &v1alpha1.AutotuneSpec{Mode: v1alpha1.AutotuneModeApply, QualityFloorPermille: 900, ShadowPercent: 50,
					Bounds: v1alpha1.AutotuneBounds{
						PromptRefreshInterval:   &v1alpha1.IntervalRange{Min: 1, Max: 200},
						ResponseRefreshInterval: &v1alpha1.IntervalRange{Min: 1, Max: 16},
						TransferPercent:         &v1alpha1.PercentRange{Min: 0, Max: 50},
					}}},
		},
	}
	if err := k8s.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(svc)
	get := func() *v1alpha1.DLLMService {
		t.Helper()
		s := &v1alpha1.DLLMService{}
		if err := k8s.Get(ctx, key, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
			return cond(), nil
		}); err != nil {
			s := get()
			data, _ := json.MarshalIndent(s.Status, "", "  ")
			var pods strings.Builder
			if list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{}); err == nil {
				for _, p := range list.Items {
					st, _ := json.Marshal(p.Status.ContainerStatuses)
					fmt.Fprintf(&pods, "pod %s %s %s\n", p.Name, p.Status.Phase, st)
					logs, _ := cs.CoreV1().Pods("default").GetLogs(p.Name, &corev1.PodLogOptions{Container: "runtime"}).DoRaw(context.Background())
					fmt.Fprintf(&pods, "%s\n", logs)
				}
			}
			t.Fatalf("%s: %v\nstatus: %s\n%s", what, err, data, pods.String())
		}
	}
	waitFor("two ready runtime Pods", 3*time.Minute, func() bool { return get().Status.ReadyReplicas == 2 })

	load := startLoad(ctx, t, k8s, "tiny")
	t.Cleanup(load.stop)

	// The tuner explores and accepts faster settings.
	accepted := func() bool {
		a := get().Status.Cache.Autotune
		if a == nil {
			return false
		}
		for _, d := range a.LastDecisions {
			if d.Action == "Accept" {
				return true
			}
		}
		return false
	}
	waitFor("an accepted decision", 3*time.Minute, accepted)
	if failed := load.failures(); failed != 0 {
		t.Errorf("%d requests failed while the settings changed (%d served); first: %v", failed, load.served(), load.firstError())
	}
	for _, d := range get().Status.Cache.Autotune.LastDecisions {
		t.Logf("decision %s: %s", d.Action, d.Reason)
	}

	// Every ready Pod runs the active settings, as its metrics report.
	runsActive := func() bool {
		s := get()
		want := s.Status.Cache.Active
		eps := readyEndpoints(ctx, t, k8s, "tiny")
		if len(eps) != 2 {
			return false
		}
		for _, ep := range eps {
			sample, err := observe.Scraper{}.Scrape(ctx, ep)
			if err != nil || sample.Settings.PromptInterval != want.PromptRefreshInterval ||
				sample.Settings.ResponseInterval != want.ResponseRefreshInterval || sample.Settings.TransferPercent != *want.TransferPercent {
				return false
			}
		}
		return true
	}
	waitFor("every Pod running the active settings", time.Minute, runsActive)
	// The Pods found the admin token the operator created, and the settings reached them
	// through the admin API, not only through the ConfigMap.
	for _, ep := range readyEndpoints(ctx, t, k8s, "tiny") {
		logs, err := cs.CoreV1().Pods("default").GetLogs(ep.Pod, &corev1.PodLogOptions{Container: "runtime"}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(logs), "admin endpoints enabled") || !strings.Contains(string(logs), `"source":"admin API"`) {
			t.Errorf("Pod %s: no settings pushed through the admin API (%v):\n%s", ep.Pod, err, logs)
		}
	}

	// Frozen, the tuner stops where it is. A Pod deleted mid-tuning is replaced, and the
	// replacement starts with the tuned settings (from the ConfigMap), not the spec's.
	s := get()
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[v1alpha1.AnnotationAutotuneFreeze] = "true"
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitFor("the tuner frozen", time.Minute, func() bool {
		return get().Status.Cache.Autotune.Phase == v1alpha1.AutotunePhaseFrozen
	})
	waitFor("every Pod running the frozen settings", time.Minute, runsActive)
	frozen := get().Status.Cache.Active
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: render.Selector(svc)})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("runtime Pods: %v (%d)", err, len(pods.Items))
	}
	old := map[string]bool{pods.Items[0].Name: true, pods.Items[1].Name: true}
	if err := cs.CoreV1().Pods("default").Delete(ctx, pods.Items[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var replacement observe.Sample
	waitFor("a replacement Pod serving", 2*time.Minute, func() bool {
		for _, ep := range readyEndpoints(ctx, t, k8s, "tiny") {
			if old[ep.Pod] {
				continue
			}
			if s, err := (observe.Scraper{}).Scrape(ctx, ep); err == nil {
				replacement = s
				return true
			}
		}
		return false
	})
	if r := replacement.Settings; replacement.Generation != 1 || r.PromptInterval != frozen.PromptRefreshInterval ||
		r.ResponseInterval != frozen.ResponseRefreshInterval || r.TransferPercent != *frozen.TransferPercent {
		t.Errorf("the replacement Pod runs %+v (generation %d), want the tuned %+v from its start", r, replacement.Generation, frozen)
	}
	if r := replacement.Settings; r.PromptInterval == 1 && r.ResponseInterval == 1 && r.TransferPercent == 50 {
		t.Errorf("the replacement Pod started with the spec's settings %+v", r)
	}

	// Requests to the deleted Pod may fail until the load sees its endpoint go; from here on,
	// while settings change again, none may.
	time.Sleep(2 * time.Second)
	failedBefore := load.failures()

	// Unfrozen, with a floor above what the cache holds: the tuner reverts.
	s = get()
	delete(s.Annotations, v1alpha1.AnnotationAutotuneFreeze)
	s.Spec.Cache.Autotune.QualityFloorPermille = 1000
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitFor("a reverted decision", 3*time.Minute, func() bool {
		for _, d := range get().Status.Cache.Autotune.LastDecisions {
			if d.Action == "Revert" {
				return true
			}
		}
		return false
	})
	for _, d := range get().Status.Cache.Autotune.LastDecisions {
		t.Logf("decision %s: %s", d.Action, d.Reason)
	}
	if s := get(); s.Spec.Cache.PromptRefreshInterval != 1 || s.Spec.Cache.ResponseRefreshInterval != 1 {
		t.Errorf("the spec's cache settings changed: %+v", s.Spec.Cache)
	}
	load.stop()
	t.Logf("load: %d requests served, %d failed (%d around the Pod deletion, first: %v)", load.served(), load.failures(), failedBefore, load.firstError())
	if n := load.failures() - failedBefore; n != 0 {
		t.Errorf("%d requests failed while the tuner reverted; first error of the run: %v", n, load.firstError())
	}

	// An autoscaled service gets a HorizontalPodAutoscaler on the runtime's saturation.
	auto := &v1alpha1.DLLMService{
		ObjectMeta: metav1.ObjectMeta{Name: "scaled", Namespace: "default"},
		Spec: v1alpha1.DLLMServiceSpec{
			Model:       svc.Spec.Model,
			Runtime:     v1alpha1.RuntimeSpec{Backend: v1alpha1.BackendCPU},
			Autoscaling: &v1alpha1.AutoscalingSpec{MinReplicas: new(int32(1)), MaxReplicas: 3, Metric: v1alpha1.AutoscalingMetricSaturation},
		},
	}
	if err := k8s.Create(ctx, auto); err != nil {
		t.Fatal(err)
	}
	waitFor("the HorizontalPodAutoscaler", time.Minute, func() bool {
		hpa := &autoscalingv2.HorizontalPodAutoscaler{}
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: "default", Name: "scaled"}, hpa); err != nil {
			return false
		}
		return hpa.Spec.ScaleTargetRef.Kind == "Deployment" && hpa.Spec.ScaleTargetRef.Name == "scaled" &&
			hpa.Spec.MaxReplicas == 3 && len(hpa.Spec.Metrics) == 1 && hpa.Spec.Metrics[0].Pods != nil &&
			hpa.Spec.Metrics[0].Pods.Metric.Name == contract.MetricSaturation
	})
}

// readyEndpoints are the ready runtime endpoints of a service, from its EndpointSlices.
func readyEndpoints(ctx context.Context, t *testing.T, k8s client.Client, service string) []observe.Endpoint {
	t.Helper()
	var eps discoveryv1.EndpointSliceList
	if err := k8s.List(ctx, &eps, client.InNamespace("default"), client.MatchingLabels{discoveryv1.LabelServiceName: service}); err != nil {
		return nil
	}
	return observe.ReadyEndpoints(eps.Items, contract.PortName)
}

// load is a closed-loop load generator: a few clients sending copy and reverse prompts to the
// service's ready Pods, as a client-side load balancer would, counting failures.
type load struct {
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	ok, failed atomic.Int64
	mu         sync.Mutex
	first      error
	stopOnce   sync.Once
}

func startLoad(ctx context.Context, t *testing.T, k8s client.Client, service string) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel}
	var eps atomic.Pointer[[]observe.Endpoint]
	refresh := func() {
		e := readyEndpoints(ctx, t, k8s, service)
		eps.Store(&e)
	}
	refresh()
	l.wg.Go(func() {
		for ctx.Err() == nil {
			refresh()
			time.Sleep(500 * time.Millisecond)
		}
	})
	hc := &http.Client{Timeout: 30 * time.Second}
	for i := range 3 {
		l.wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for ctx.Err() == nil {
				list := *eps.Load()
				if len(list) == 0 {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				ep := list[r.IntN(len(list))]
				word := make([]byte, 4+r.IntN(6))
				for j := range word {
					word[j] = byte('a' + r.IntN(26))
				}
				task := []string{"copy", "reverse"}[r.IntN(2)]
				body, _ := json.Marshal(map[string]any{"model": service, "prompt": task + ": " + string(word) + "\n", "max_tokens": 16})
				resp, err := hc.Post("http://"+ep.Address+contract.APIPath+"/completions", "application/json", bytes.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", ep.Pod, resp.Status)
					}
				}
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if l.first == nil {
						l.first = err
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	return l
}

func (l *load) stop()         { l.stopOnce.Do(func() { l.cancel(); l.wg.Wait() }) }
func (l *load) served() int64 { return l.ok.Load() }
func (l *load) failures() int64 {
	return l.failed.Load()
}
func (l *load) firstError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}
