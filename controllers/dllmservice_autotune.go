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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers/autotune"
	"dllm.dev/dllm-operator/controllers/observe"
	"dllm.dev/dllm-operator/controllers/render"
	"dllm.dev/dllm-operator/runtime/contract"
)

// Tuner tunes the cache settings of DLLMServices in Autotune mode: a reconcile that is due
// scrapes the service's ready runtime Pods, folds the window into the policy of package
// autotune, and hands back the settings to render and push. Its memory (each service's last
// samples and policy state) lives here; status carries the best settings across restarts of
// the manager.
type Tuner struct {
	// Scraper reads the Pods' metrics.
	Scraper observe.Scraper
	// Interval is the length of an observation window (default 15 s).
	Interval time.Duration
	// HTTPClient pushes settings to the Pods' admin endpoints (nil: a default with a timeout).
	HTTPClient *http.Client
	// Metrics records the tuner's decisions and phases (nil: not recorded).
	Metrics *Metrics

	mu       sync.Mutex
	services map[types.NamespacedName]*tuning
}

// tuning is one service's tuner.
type tuning struct {
	// key holds the spec's tuning inputs; when they change the tuner starts over.
	key     string
	cfg     autotune.Config
	state   autotune.State
	tracker observe.Tracker
	last    time.Time
	status  v1alpha1.AutotuneStatus
}

// tuneResult is what a reconcile does with the tuner's step.
type tuneResult struct {
	// active are the settings the Pods should run (Apply mode) or run already (Recommend).
	active v1alpha1.CacheSettings
	// apply says the tuner's settings reach the Pods.
	apply bool
	// pods are the ready endpoints whose last sample ran other settings than active.
	stale []observe.Endpoint
	// decisions made in this step, for events.
	decisions []autotune.Decision
	status    v1alpha1.AutotuneStatus
}

func (t *Tuner) interval() time.Duration {
	if t.Interval > 0 {
		return t.Interval
	}
	return 15 * time.Second
}

// tunerConfig is the policy's configuration from svc's spec: a setting without bounds is fixed
// at the spec's value.
func tunerConfig(svc *v1alpha1.DLLMService) (autotune.Config, autotune.Settings) {
	spec := render.CacheSettings(svc)
	start := settingsOf(spec)
	cfg := autotune.Config{
		Prompt:   autotune.Range{Min: start.PromptInterval, Max: start.PromptInterval},
		Response: autotune.Range{Min: start.ResponseInterval, Max: start.ResponseInterval},
		Transfer: autotune.Range{Min: start.TransferPercent, Max: start.TransferPercent},
		Floor:    float64(v1alpha1.DefaultQualityFloorPermille) / 1000,
	}
	if a := svc.Spec.Cache.Autotune; a != nil {
		if a.QualityFloorPermille > 0 {
			cfg.Floor = float64(a.QualityFloorPermille) / 1000
		}
		if a.LatencyTarget != nil {
			cfg.LatencyTarget = a.LatencyTarget.Duration
		}
		b := a.Bounds
		if r := b.PromptRefreshInterval; r != nil {
			cfg.Prompt = autotune.Range{Min: r.Min, Max: r.Max}
		}
		if r := b.ResponseRefreshInterval; r != nil {
			cfg.Response = autotune.Range{Min: r.Min, Max: r.Max}
		}
		if r := b.TransferPercent; r != nil {
			cfg.Transfer = autotune.Range{Min: r.Min, Max: r.Max}
		}
	}
	return cfg, start
}

func settingsOf(c v1alpha1.CacheSettings) autotune.Settings {
	s := autotune.Settings{PromptInterval: c.PromptRefreshInterval, ResponseInterval: c.ResponseRefreshInterval}
	if c.TransferPercent != nil {
		s.TransferPercent = *c.TransferPercent
	}
	return s
}

func cacheSettingsOf(s autotune.Settings) v1alpha1.CacheSettings {
	rho := s.TransferPercent
	return v1alpha1.CacheSettings{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: s.PromptInterval,
		ResponseRefreshInterval: s.ResponseInterval, TransferPercent: &rho}
}

// step runs the tuner for svc if a window is due, and returns what to render, push and report.
func (t *Tuner) step(ctx context.Context, c client.Client, svc *v1alpha1.DLLMService, now time.Time) (*tuneResult, error) {
	cfg, start := tunerConfig(svc)
	apply := render.TunerApplies(svc)
	key := fmt.Sprintf("%+v %v %v", cfg, start, apply)
	name := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.services == nil {
		t.services = map[types.NamespacedName]*tuning{}
	}
	tu := t.services[name]
	if tu == nil || tu.key != key {
		tu = &tuning{key: key, cfg: cfg, state: autotune.Start(cfg, resumeFrom(tu, svc, cfg, start, apply)),
			status: v1alpha1.AutotuneStatus{Phase: v1alpha1.AutotunePhaseWaiting}}
		if a := svc.Status.Cache.Autotune; a != nil {
			tu.status.LastDecisions = a.LastDecisions
		}
		t.services[name] = tu
		t.Metrics.start(name)
	}
	res := &tuneResult{apply: apply}
	frozen := svc.Annotations[v1alpha1.AnnotationAutotuneFreeze] == "true"
	if !frozen && now.Sub(tu.last) >= t.interval() {
		tu.last = now
		if err := t.observe(ctx, c, svc, tu, now, res); err != nil {
			return nil, err
		}
	}
	active := tu.state.Active()
	if !apply {
		active = start
	}
	res.active = cacheSettingsOf(active)
	st := tu.status
	switch {
	case frozen:
		st.Phase = v1alpha1.AutotunePhaseFrozen
	case st.Phase != v1alpha1.AutotunePhaseWaiting && tu.state.Phase == autotune.PhaseConverged:
		st.Phase = v1alpha1.AutotunePhaseConverged
	case st.Phase != v1alpha1.AutotunePhaseWaiting:
		st.Phase = v1alpha1.AutotunePhaseExploring
	}
	t.Metrics.setPhase(name, st.Phase)
	best := cacheSettingsOf(tu.state.Best)
	st.Best = &best
	if c := tu.state.Candidate; c != nil {
		cand := cacheSettingsOf(*c)
		st.Candidate = &cand
	} else {
		st.Candidate = nil
	}
	res.status = st
	return res, nil
}

// resumeFrom is where a new tuner for svc starts: the best settings so far when they are
// still within bounds, so a changed floor or bounds judges them anew (and reverts them if they
// no longer hold) and a restarted manager takes them from status; else the spec's start.
func resumeFrom(old *tuning, svc *v1alpha1.DLLMService, cfg autotune.Config, start autotune.Settings, apply bool) autotune.Settings {
	a := svc.Status.Cache.Autotune
	switch {
	case !apply:
	case old != nil && within(cfg, old.state.Best):
		return old.state.Best
	case old == nil && a != nil && a.Best != nil && within(cfg, settingsOf(*a.Best)):
		return settingsOf(*a.Best)
	}
	return start
}

// within reports whether s lies in cfg's bounds.
func within(cfg autotune.Config, s autotune.Settings) bool {
	in := func(r autotune.Range, v int32) bool { return r.Min <= v && v <= r.Max }
	return in(cfg.Prompt, s.PromptInterval) && in(cfg.Response, s.ResponseInterval) && in(cfg.Transfer, s.TransferPercent)
}

// observe scrapes svc's ready Pods and folds the window of the active settings into the
// policy.
func (t *Tuner) observe(ctx context.Context, c client.Client, svc *v1alpha1.DLLMService, tu *tuning, now time.Time, res *tuneResult) error {
	var eps discoveryv1.EndpointSliceList
	if err := c.List(ctx, &eps, client.InNamespace(svc.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
		return fmt.Errorf("list EndpointSlices: %w", err)
	}
	endpoints := observe.ReadyEndpoints(eps.Items, contract.PortName)
	log := logf.FromContext(ctx)
	samples := map[string]observe.Sample{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ep := range endpoints {
		wg.Go(func() {
			s, err := t.Scraper.Scrape(ctx, ep)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// Tolerated: the Pod sits this window out, and the next sample starts afresh.
				log.Info("Scraping a runtime Pod failed", "pod", ep.Pod, "err", err.Error())
				return
			}
			samples[ep.Pod] = s
		})
	}
	wg.Wait()
	active := tu.state.Active()
	// After this window's decision, the Pods that run other settings than the tuner's.
	defer func() {
		for _, ep := range endpoints {
			if s, ok := samples[ep.Pod]; ok && (s.Settings != tu.state.Active() || !s.Enabled) {
				res.stale = append(res.stale, ep)
			}
		}
	}()
	windows, skipped := tu.tracker.Observe(now, samples)
	for _, err := range skipped {
		log.V(1).Info("Left a runtime Pod out of the window", "reason", err.Error())
	}
	for _, o := range observe.Merge(windows) {
		if !o.Enabled || o.Settings != active {
			continue
		}
		tu.status.Observed = observedStatus(o)
		if o.Requests == 0 {
			return nil
		}
		if tu.status.Phase == v1alpha1.AutotunePhaseWaiting {
			tu.status.Phase = v1alpha1.AutotunePhaseExploring
		}
		next, d := autotune.Next(tu.cfg, tu.state, o.Window())
		if !render.TunerApplies(svc) {
			// Recommend mode: the Pods keep the spec's settings, so the tuner measures those
			// alone and reports what it would do next, without moving.
			next.Candidate, next.CandStats = nil, autotune.Stats{}
			if d.Action == autotune.ActionRevert {
				next.Best = tu.state.Best
			}
		}
		tu.state = next
		if d.Action != autotune.ActionMeasure && d.Action != autotune.ActionHold && d.Action != autotune.ActionIgnore {
			res.decisions = append(res.decisions, d)
			t.Metrics.decision(types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}, d.Action)
			tu.status.LastDecisions = appendDecision(tu.status.LastDecisions, d, now)
		}
	}
	return nil
}

// maxDecisions bounds status.cache.autotune.lastDecisions.
const maxDecisions = 10

func appendDecision(ds []v1alpha1.AutotuneDecision, d autotune.Decision, now time.Time) []v1alpha1.AutotuneDecision {
	reason := d.Reason
	if len(reason) > 512 {
		reason = reason[:509] + "..."
	}
	if n := len(ds); n > 0 && ds[n-1].Action == string(d.Action) && ds[n-1].Reason == reason {
		return ds // the same recommendation again
	}
	ds = append(slices.Clone(ds), v1alpha1.AutotuneDecision{Time: metav1.NewTime(now), Action: string(d.Action),
		From: cacheSettingsOf(d.From), To: cacheSettingsOf(d.To), Reason: reason})
	if len(ds) > maxDecisions {
		ds = ds[len(ds)-maxDecisions:]
	}
	return ds
}

// observedStatus is an observation as status reports it.
func observedStatus(o observe.Observation) *v1alpha1.AutotuneObservation {
	return &v1alpha1.AutotuneObservation{
		Settings:           cacheSettingsOf(o.Settings),
		Pods:               int32(len(o.Pods)),
		Requests:           int32(o.Requests),
		MeanLatency:        &metav1.Duration{Duration: o.MeanLatency.Round(time.Millisecond)},
		P95Latency:         &metav1.Duration{Duration: o.P95Latency.Round(time.Millisecond)},
		ShadowSamples:      int32(o.Samples),
		AgreementPermille:  int32(o.Agreement*1000 + 0.5),
		TokensPerSecond:    int32(o.TokensPerSecond + 0.5),
		SaturationPermille: int32(o.Saturation*1000 + 0.5),
	}
}

// forget drops the tuner and the metric series of a deleted service.
func (t *Tuner) forget(name types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.services, name)
	t.Metrics.forget(name)
}

// ensureAdminSecret creates svc's admin token Secret if it does not exist and returns the token.
func ensureAdminSecret(ctx context.Context, c client.Client, svc *v1alpha1.DLLMService) (string, error) {
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: svc.Namespace, Name: render.AdminSecretName(svc)}
	err := c.Get(ctx, key, secret)
	if err == nil {
		return strings.TrimSpace(string(secret.Data[render.AdminTokenKey])), nil
	}
	if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("get admin Secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: render.Labels(svc)},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{render.AdminTokenKey: []byte(token)}}
	if err := controllerutil.SetControllerReference(svc, secret, c.Scheme()); err != nil {
		return "", err
	}
	if err := c.Create(ctx, secret); err != nil {
		return "", fmt.Errorf("create admin Secret: %w", err)
	}
	return token, nil
}

// push sends settings to each endpoint's admin API, so running Pods take them at once (the
// ConfigMap reaches them too, but only after the kubelet syncs it).
func (t *Tuner) push(ctx context.Context, token string, settings v1alpha1.CacheSettings, eps []observe.Endpoint) error {
	// The shadow share is not a live setting: the runtime takes it from its configuration.
	body, err := json.Marshal(contract.CacheConfig{Enabled: true, PromptRefreshInterval: int(settings.PromptRefreshInterval),
		ResponseRefreshInterval: int(settings.ResponseRefreshInterval), TransferPercent: int(*settings.TransferPercent)})
	if err != nil {
		return err
	}
	hc := t.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	var errs []error
	for _, ep := range eps {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+ep.Address+contract.AdminCachePath, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("push settings to %s: %w", ep.Pod, err))
			continue
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Errorf("push settings to %s: %s", ep.Pod, resp.Status))
		}
	}
	return errors.Join(errs...)
}

// actionTune is the action of the tuner's events.
const actionTune = "Tune"

// tunerEvents are the events of a step's decisions: accepted settings (Normal) and reverted
// ones (Warning); exploring and converging stay in status.
func tunerEvents(ds []autotune.Decision) []event {
	var out []event
	for _, d := range ds {
		switch d.Action {
		case autotune.ActionAccept:
			out = append(out, event{corev1.EventTypeNormal, "CacheSettingsAccepted", actionTune, d.Reason})
		case autotune.ActionRevert:
			out = append(out, event{corev1.EventTypeWarning, "CacheSettingsReverted", actionTune, d.Reason})
		}
	}
	return out
}
