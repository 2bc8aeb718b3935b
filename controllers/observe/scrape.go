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
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"dllm.dev/dllm-operator/runtime/contract"
)

// Endpoint is a ready runtime pod and the address of its HTTP port.
type Endpoint struct {
	Pod     string
	Address string // host:port
}

// ReadyEndpoints lists the ready endpoints of a Service's EndpointSlices on the port named
// portName, one per pod (dual-stack slices list a pod twice), sorted by pod. An endpoint whose
// readiness is unknown counts as ready, as the EndpointSlice API asks consumers to; a
// terminating one does not.
func ReadyEndpoints(eps []discoveryv1.EndpointSlice, portName string) []Endpoint {
	seen := map[string]bool{}
	var out []Endpoint
	for _, s := range eps {
		var port *int32
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == portName && p.Port != nil {
				port = p.Port
			}
		}
		if port == nil {
			continue
		}
		for _, e := range s.Endpoints {
			c := e.Conditions
			if (c.Ready != nil && !*c.Ready) || (c.Terminating != nil && *c.Terminating) || len(e.Addresses) == 0 {
				continue
			}
			pod := e.Addresses[0]
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				pod = e.TargetRef.Name
			}
			if seen[pod] {
				continue
			}
			seen[pod] = true
			out = append(out, Endpoint{Pod: pod, Address: net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(*port)))})
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.Pod, b.Pod) })
	return out
}

// Scraper reads runtime pods' metrics.
type Scraper struct {
	// Client makes the requests (nil: a client without keep-alives to pods that come and go).
	Client *http.Client
	// Timeout bounds one scrape (default 5 s); MaxBytes one response (default 8 MiB).
	Timeout  time.Duration
	MaxBytes int64
}

// Scrape fetches and parses one endpoint's metrics.
func (s Scraper) Scrape(ctx context.Context, ep Endpoint) (Sample, error) {
	timeout, limit, client := s.Timeout, s.MaxBytes, s.Client
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if limit <= 0 {
		limit = 8 << 20
	}
	if client == nil {
		client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep.Address+contract.MetricsPath, nil)
	if err != nil {
		return Sample{}, fmt.Errorf("scrape %s: %w", ep.Pod, err)
	}
	// The classic text format: what Parse reads, whatever else the server could offer.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return Sample{}, fmt.Errorf("scrape %s: %w", ep.Pod, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("scrape %s: %s answered %s", ep.Pod, contract.MetricsPath, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Sample{}, fmt.Errorf("scrape %s: %w", ep.Pod, err)
	}
	if int64(len(body)) > limit {
		return Sample{}, fmt.Errorf("scrape %s: metrics larger than %d bytes", ep.Pod, limit)
	}
	sample, err := Parse(strings.NewReader(string(body)))
	if err != nil {
		return Sample{}, fmt.Errorf("scrape %s: %w", ep.Pod, err)
	}
	return sample, nil
}

// Tracker keeps each pod's last sample and turns the next one into a window.
type Tracker struct {
	last map[string]timed
}

type timed struct {
	at     time.Time
	sample Sample
}

// Observe records the samples scraped at now (by pod) and returns the windows since each pod's
// previous sample, and why the other pods gave none. Pods not in samples are forgotten, so a pod
// that comes back starts afresh.
func (t *Tracker) Observe(now time.Time, samples map[string]Sample) (windows []PodWindow, skipped []error) {
	next := make(map[string]timed, len(samples))
	for pod, s := range samples {
		next[pod] = timed{now, s}
		prev, ok := t.last[pod]
		if !ok {
			skipped = append(skipped, fmt.Errorf("pod %s: first sample", pod))
			continue
		}
		w, err := Delta(pod, prev.sample, s, now.Sub(prev.at))
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		windows = append(windows, w)
	}
	t.last = next
	slices.SortFunc(windows, func(a, b PodWindow) int { return strings.Compare(a.Pod, b.Pod) })
	slices.SortFunc(skipped, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return windows, skipped
}
