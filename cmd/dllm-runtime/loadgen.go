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

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"dllm.dev/dllm-operator/runtime/contract"
)

// loadgenFlags are the loadgen subcommand's flags.
type loadgenFlags struct {
	url, model, prompt string
	clients            int
	duration           time.Duration
	maxTokens          int
	asJSON             bool
}

// loadgenResult is what loadgen prints.
type loadgenResult struct {
	Clients          int     `json:"clients"`
	Seconds          float64 `json:"seconds"`
	Requests         int     `json:"requests"`
	Succeeded        int     `json:"succeeded"`
	Refused          int     `json:"refused_429"`
	Errors           int     `json:"errors"`
	RequestsPerSec   float64 `json:"requests_per_second"`
	TokensPerSec     float64 `json:"completion_tokens_per_second"`
	LatencyP50       float64 `json:"latency_p50_seconds"`
	LatencyP95       float64 `json:"latency_p95_seconds"`
	LatencyP99       float64 `json:"latency_p99_seconds"`
	RefusedRate      float64 `json:"refused_rate"`
	ErrorRate        float64 `json:"error_rate"`
	CompletionTokens int     `json:"completion_tokens"`
	// Server peaks, from its /metrics scraped every scrapeInterval during the run (zero
	// when no scrape succeeded): resident memory, queue depth, requests in flight and
	// saturation.
	Scrapes             int     `json:"server_scrapes"`
	ServerRSSMaxBytes   float64 `json:"server_rss_max_bytes"`
	ServerQueueMax      float64 `json:"server_queue_max"`
	ServerInFlightMax   float64 `json:"server_in_flight_max"`
	ServerSaturationMax float64 `json:"server_saturation_max"`
}

// scrapeInterval is how often loadgen reads the server's metrics during a run.
const scrapeInterval = 100 * time.Millisecond

// watchServer scrapes base's metrics every scrapeInterval until ctx ends and keeps the peaks
// in res (under mu).
func watchServer(ctx context.Context, client *http.Client, base string, mu *sync.Mutex, res *loadgenResult) {
	url := strings.TrimRight(base, "/") + contract.MetricsPath
	peaks := []struct {
		name string
		max  *float64
	}{{"process_resident_memory_bytes", &res.ServerRSSMaxBytes}, {contract.MetricQueueDepth, &res.ServerQueueMax},
		{contract.MetricInFlight, &res.ServerInFlightMax}, {contract.MetricSaturation, &res.ServerSaturationMax}}
	tick := time.NewTicker(scrapeInterval)
	defer tick.Stop()
	for {
		if families, err := scrape(ctx, client, url); err == nil {
			mu.Lock()
			res.Scrapes++
			for _, p := range peaks {
				if f, ok := families[p.name]; ok && len(f.GetMetric()) == 1 && f.GetMetric()[0].Gauge != nil {
					*p.max = max(*p.max, f.GetMetric()[0].GetGauge().GetValue())
				}
			}
			mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// scrape reads the metric families at url.
func scrape(ctx context.Context, client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// runLoadgen drives a server's completions endpoint with closed-loop clients for a bounded time.
func runLoadgen(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var f loadgenFlags
	flags.StringVar(&f.url, "url", "http://127.0.0.1:8000", "Base URL of the server.")
	flags.StringVar(&f.model, "model", "", "Model ID to request (required).")
	flags.StringVar(&f.prompt, "prompt", "Write a short story about a robot.", "Prompt of every request.")
	flags.IntVar(&f.clients, "clients", 4, "Concurrent clients, each sending its next request when the last one returns.")
	flags.DurationVar(&f.duration, "duration", 30*time.Second, "How long to send requests.")
	flags.IntVar(&f.maxTokens, "max-tokens", 32, "max_tokens of every request.")
	flags.BoolVar(&f.asJSON, "json", false, "Print one JSON object instead of a table.")
	if code, ok := parseFlags(flags, args); !ok {
		return code
	}
	switch {
	case flags.NArg() > 0:
		say(stderr, "dllm-runtime loadgen: unexpected arguments %q\n", flags.Args())
		return exitUsage
	case f.model == "":
		say(stderr, "dllm-runtime loadgen: --model is required\n")
		return exitUsage
	case f.clients < 1 || f.duration <= 0 || f.maxTokens < 1:
		say(stderr, "dllm-runtime loadgen: --clients, --duration and --max-tokens must be positive\n")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res := loadgen(ctx, &f, http.DefaultClient)
	if f.asJSON {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return exitError
		}
		return exitOK
	}
	say(stdout, "%d clients for %.1f s: %d requests, %d ok, %d refused (429), %d errors\n",
		res.Clients, res.Seconds, res.Requests, res.Succeeded, res.Refused, res.Errors)
	say(stdout, "throughput: %.2f requests/s, %.1f completion tokens/s\n", res.RequestsPerSec, res.TokensPerSec)
	say(stdout, "latency of successful requests: p50 %.3f s, p95 %.3f s, p99 %.3f s\n", res.LatencyP50, res.LatencyP95, res.LatencyP99)
	say(stdout, "refused rate %.3f, error rate %.3f\n", res.RefusedRate, res.ErrorRate)
	if res.Scrapes > 0 {
		say(stdout, "server peaks: %.0f MiB resident, queue %.0f, in flight %.0f, saturation %.2f\n",
			res.ServerRSSMaxBytes/(1<<20), res.ServerQueueMax, res.ServerInFlightMax, res.ServerSaturationMax)
	}
	return exitOK
}

// loadgen runs f.clients closed-loop clients until f.duration passes or ctx ends.
func loadgen(ctx context.Context, f *loadgenFlags, client *http.Client) *loadgenResult {
	body, _ := json.Marshal(map[string]any{"model": f.model, "prompt": f.prompt, "max_tokens": f.maxTokens})
	endpoint := strings.TrimRight(f.url, "/") + "/v1/completions"
	ctx, cancel := context.WithTimeout(ctx, f.duration)
	defer cancel()
	var mu sync.Mutex
	res := &loadgenResult{Clients: f.clients}
	var latencies []float64
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { watchServer(ctx, client, f.url, &mu, res) })
	for range f.clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				status, tokens, err := completeOnce(ctx, client, endpoint, body)
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the run: not the server's failure
				}
				d := time.Since(t0).Seconds()
				mu.Lock()
				res.Requests++
				switch {
				case err == nil && status == http.StatusOK:
					res.Succeeded++
					res.CompletionTokens += tokens
					latencies = append(latencies, d)
				case status == http.StatusTooManyRequests:
					res.Refused++
				default:
					res.Errors++
				}
				mu.Unlock()
				if status == http.StatusTooManyRequests {
					// Back off briefly, as a client honouring 429 would.
					select {
					case <-ctx.Done():
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.RequestsPerSec = float64(res.Succeeded) / res.Seconds
	res.TokensPerSec = float64(res.CompletionTokens) / res.Seconds
	slices.Sort(latencies)
	res.LatencyP50, res.LatencyP95, res.LatencyP99 = quantile(latencies, 0.5), quantile(latencies, 0.95), quantile(latencies, 0.99)
	if res.Requests > 0 {
		res.RefusedRate = float64(res.Refused) / float64(res.Requests)
		res.ErrorRate = float64(res.Errors) / float64(res.Requests)
	}
	return res
}

// completeOnce sends one completion request and returns its status and completion tokens.
func completeOnce(ctx context.Context, client *http.Client, endpoint string, body []byte) (int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, 0, err
	}
	return resp.StatusCode, out.Usage.CompletionTokens, nil
}

// quantile returns the q-quantile of sorted values (nearest rank), 0 when there are none.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
