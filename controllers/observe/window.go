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

package observe

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"dllm.dev/dllm-operator/controllers/autotune"
)

// PodWindow is what one pod did between two of its samples, under one settings generation.
type PodWindow struct {
	Pod      string
	Enabled  bool
	Settings autotune.Settings
	Interval time.Duration
	// Latency holds the requests that finished in the window.
	Latency Histogram
	// Forwards, PromptTokens and Generated count forward passes and tokens in the window.
	Forwards, PromptTokens, Generated float64
	// Shadow holds the window's shadow comparisons of the generation.
	Shadow Histogram
	// Saturation is the pod's at the window's end.
	Saturation float64
}

// Errors of Delta: why a pod's interval does not count.
var (
	ErrSettingsChanged = errors.New("cache settings changed during the window")
	ErrRestarted       = errors.New("counters went down: the pod restarted during the window")
)

// Delta returns what a pod did between samples prev and cur, taken interval apart, or why the
// interval cannot be attributed to one settings generation.
func Delta(pod string, prev, cur Sample, interval time.Duration) (PodWindow, error) {
	if cur.Generation != prev.Generation || cur.Settings != prev.Settings || cur.Enabled != prev.Enabled {
		return PodWindow{}, fmt.Errorf("pod %s: %w (generation %d to %d)", pod, ErrSettingsChanged, prev.Generation, cur.Generation)
	}
	latency, ok := cur.Latency.sub(prev.Latency)
	if !ok || cur.Forwards < prev.Forwards || cur.PromptTokens < prev.PromptTokens || cur.Generated < prev.Generated {
		return PodWindow{}, fmt.Errorf("pod %s: %w", pod, ErrRestarted)
	}
	w := PodWindow{Pod: pod, Enabled: cur.Enabled, Settings: cur.Settings, Interval: interval, Latency: latency,
		Forwards: cur.Forwards - prev.Forwards, PromptTokens: cur.PromptTokens - prev.PromptTokens,
		Generated: cur.Generated - prev.Generated, Saturation: cur.Saturation}
	if now, ok := cur.Shadow[cur.Generation]; ok {
		// The generation's series starts with its first shadow request: no earlier reading is
		// an earlier reading of zero.
		before := prev.Shadow[cur.Generation].Agreement
		if len(before.Bounds) == 0 {
			w.Shadow = now.Agreement
		} else if w.Shadow, ok = now.Agreement.sub(before); !ok {
			return PodWindow{}, fmt.Errorf("pod %s: %w", pod, ErrRestarted)
		}
	}
	return w, nil
}

// Observation is one window of every pod that ran the same settings: the tuner's input, and
// what status reports as observed.
type Observation struct {
	Enabled  bool
	Settings autotune.Settings
	Pods     []string
	Interval time.Duration
	// Requests finished in the window, with their mean and p95 latency.
	Requests    int
	MeanLatency time.Duration
	P95Latency  time.Duration
	// TokensPerSecond and ForwardsPerSecond are summed over the pods.
	TokensPerSecond, ForwardsPerSecond float64
	// PromptTokens and ResponseTokens are mean lengths per request.
	PromptTokens, ResponseTokens float64
	// Samples is the number of shadow-checked requests, Agreement their mean share of equal
	// response tokens and AgreementVar its variance (from the histogram's buckets).
	Samples      int
	Agreement    float64
	AgreementVar float64
	// Saturation is the pods' mean demand over capacity.
	Saturation float64
}

// Merge groups pod windows by the settings they ran and merges each group, the group with the
// most pods first.
func Merge(ws []PodWindow) []Observation {
	type group struct {
		enabled  bool
		settings autotune.Settings
	}
	byGroup := map[group][]PodWindow{}
	for _, w := range ws {
		g := group{w.Enabled, w.Settings}
		byGroup[g] = append(byGroup[g], w)
	}
	out := make([]Observation, 0, len(byGroup))
	for g, pods := range byGroup {
		o := Observation{Enabled: g.enabled, Settings: g.settings}
		var latency, shadow Histogram
		var prompt, generated, saturation float64
		for _, w := range pods {
			o.Pods = append(o.Pods, w.Pod)
			o.Interval = max(o.Interval, w.Interval)
			latency.add(w.Latency)
			if len(w.Shadow.Bounds) > 0 {
				shadow.add(w.Shadow)
			}
			prompt += w.PromptTokens
			generated += w.Generated
			saturation += w.Saturation
			if s := w.Interval.Seconds(); s > 0 {
				o.TokensPerSecond += w.Generated / s
				o.ForwardsPerSecond += w.Forwards / s
			}
		}
		slices.Sort(o.Pods)
		o.Saturation = saturation / float64(len(pods))
		o.Requests = int(latency.Count)
		if latency.Count > 0 {
			o.MeanLatency = seconds(latency.Sum / latency.Count)
			o.P95Latency = seconds(latency.Quantile(0.95))
			o.PromptTokens, o.ResponseTokens = prompt/latency.Count, generated/latency.Count
		}
		if shadow.Count > 0 {
			o.Samples = int(shadow.Count)
			o.Agreement = shadow.Sum / shadow.Count
			o.AgreementVar = shadow.Variance()
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Observation) int {
		return cmp.Or(cmp.Compare(len(b.Pods), len(a.Pods)), cmp.Compare(a.Settings.String(), b.Settings.String()))
	})
	return out
}

// Window is the observation as the tuner reads it.
func (o Observation) Window() autotune.Window {
	return autotune.Window{Settings: o.Settings, Requests: o.Requests, MeanLatency: o.MeanLatency, P95Latency: o.P95Latency,
		Samples: o.Samples, Agreement: o.Agreement, AgreementVar: o.AgreementVar,
		PromptTokens: o.PromptTokens, ResponseTokens: o.ResponseTokens}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
