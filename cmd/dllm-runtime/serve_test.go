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
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/weights"
)

// serveConfig writes a test checkpoint and returns a valid runtime config for it on a free
// port.
func serveConfig(t *testing.T) *contract.Config {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 9, Layers: 2}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return &contract.Config{
		Model:  contract.ModelConfig{Name: "tiny", Family: contract.FamilyLLaDA, Dir: dir, DType: contract.DTypeBFloat16, Backend: contract.BackendCPU},
		Server: contract.ServerConfig{Port: port, MaxBatchSize: 4, MaxQueue: 16},
		Generation: contract.GenerationConfig{Steps: 8, GenLength: 8, BlockLength: 4,
			Remasking: contract.RemaskingLowConfidence},
		Cache: contract.CacheConfig{Enabled: true, PromptRefreshInterval: 4, ResponseRefreshInterval: 2, TransferPercent: 25},
	}
}

// The serve path end to end: probes before and after loading, the API through the official
// client, and a SIGTERM-style stop that lets an in-flight streamed request finish and then
// refuses connections.
func TestServeEndToEndAndGracefulShutdown(t *testing.T) {
	cfg := serveConfig(t)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := writeFile(tokenFile, "s3cret\n"); err != nil {
		t.Fatal(err)
	}
	base, stop := startServe(t, cfg, &serveFlags{grace: 20 * time.Second, adminToken: tokenFile})
	client := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	c, err := client.Completions.New(context.Background(), openai.CompletionNewParams{Model: "tiny",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 1 || c.Usage.CompletionTokens > 8 {
		t.Errorf("completion %+v", c)
	}
	checkMetrics(t, base)

	chat, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "tiny",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || len(chat.Choices) != 1 || chat.Choices[0].Message.Role != "assistant" {
		t.Errorf("chat: %+v, %v", chat, err)
	}
	var apiErr *openai.Error
	_, err = client.Completions.New(context.Background(), openai.CompletionNewParams{Model: "tiny",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}, Temperature: openai.Float(-1)})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != "temperature" {
		t.Errorf("invalid temperature: %v, want 400 naming temperature", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = client.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("cancel me")}, MaxTokens: openai.Int(2000)},
		option.WithJSONSet("dllm", map[string]any{"steps": 2000, "block_length": 2000}))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled request: %v", err)
	}

	// A live PUT of cache settings applies to later requests, under the next generation.
	req, _ := http.NewRequest(http.MethodPut, base+contract.AdminCachePath,
		strings.NewReader(`{"enabled":true,"promptRefreshInterval":6,"responseRefreshInterval":3,"transferPercent":50}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s: %v %v", contract.AdminCachePath, resp, err)
	}
	_ = resp.Body.Close()
	live := map[string]string{"prompt_interval": "6", "response_interval": "3", "transfer_percent": "50", "generation": "2"}
	if v, ok := metricValue(t, base, contract.MetricCacheSettings, live); !ok || v != 1 {
		t.Errorf("after the PUT, %s%v = %v (present %v), want 1", contract.MetricCacheSettings, live, v, ok)
	}
	refreshes := map[string]string{"kind": "prompt"}
	before, _ := metricValue(t, base, contract.MetricCacheRefreshes, refreshes)
	if _, err := client.Completions.New(context.Background(), openai.CompletionNewParams{Model: "tiny",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("after the change")}}); err != nil {
		t.Fatal(err)
	}
	// 8 steps with K_p 6 refresh the prompt at passes 1 and 7.
	if after, _ := metricValue(t, base, contract.MetricCacheRefreshes, refreshes); after-before != 2 {
		t.Errorf("a request after the PUT refreshed the prompt %v times, want 2 (K_p 6 over 8 passes)", after-before)
	}

	// A streamed request in flight when the stop comes still completes.
	stream := client.Completions.NewStreaming(context.Background(), openai.CompletionNewParams{Model: "tiny",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("drain me")}, MaxTokens: openai.Int(256)},
		option.WithJSONSet("dllm", map[string]any{"steps": 256, "block_length": 256}))
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	finish := ""
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
	}
	if err := stream.Err(); err != nil || finish == "" {
		t.Errorf("in-flight stream across shutdown: err %v, finish %q", err, finish)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after the stop")
	}
	if got := httpStatus(base + contract.HealthPath); got != 0 {
		t.Errorf("after shutdown the server still answers (%d)", got)
	}
}

// Every remasking the contract allows maps to a sampler rule of each family.
func TestDefaultParamsRemasking(t *testing.T) {
	for _, tc := range []struct {
		remasking string
		llada     sampler.Remasking
		dream     sampler.Algorithm
	}{
		{contract.RemaskingLowConfidence, sampler.LowConfidence, sampler.MaskGITPlus},
		{contract.RemaskingRandom, sampler.Random, sampler.Origin},
		{contract.RemaskingMargin, sampler.LowMargin, sampler.TopKMargin},
		{contract.RemaskingEntropy, sampler.HighEntropy, sampler.Entropy},
	} {
		cfg := serveConfig(t)
		cfg.Generation.Remasking = tc.remasking
		if got := defaultParams(cfg, weights.FamilyLLaDA).Remasking; got != tc.llada {
			t.Errorf("LLaDA %s: remasking %v, want %v", tc.remasking, got, tc.llada)
		}
		if got := defaultParams(cfg, weights.FamilyDream).Algorithm; got != tc.dream {
			t.Errorf("Dream %s: algorithm %v, want %v", tc.remasking, got, tc.dream)
		}
	}
}

// A config whose file is invalid fails with the field named, before anything listens.
func TestServeRejectsBadConfig(t *testing.T) {
	var stderr strings.Builder
	path := t.TempDir() + "/config.json"
	if err := writeFile(path, `{"model":{"name":""}}`); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"serve", "--config", path}, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "model.name") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// metricValue returns the value of the first series of name whose labels include labels
// (a histogram's sample count), from the server at base.
func metricValue(t *testing.T, base, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := scrape(context.Background(), http.DefaultClient, base+contract.MetricsPath)
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	f, ok := families[name]
	if !ok {
		return 0, false
	}
metrics:
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
				continue metrics
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// checkMetrics scrapes the server after one cached request and checks the contract's metrics
// with the Prometheus text parser.
func checkMetrics(t *testing.T, base string) {
	t.Helper()
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{contract.MetricRequestDuration, nil, 1},
		{contract.MetricQueueWait, nil, 1},
		{contract.MetricForwardDuration, nil, 8},
		{contract.MetricRequestSteps, nil, 1},
		{contract.MetricPromptTokens, nil, 1},
		{contract.MetricFLOPsSpent, nil, 1},
		{contract.MetricFLOPsSaved, nil, 1},
		{contract.MetricCacheTokensReused, nil, 1},
		{contract.MetricCacheRefreshes, map[string]string{"kind": "prompt"}, 1},
		{contract.MetricCacheSettings, map[string]string{"prompt_interval": "4", "response_interval": "2", "transfer_percent": "25", "generation": "1"}, 1},
		{contract.MetricQueueDepth, nil, 0},
		{contract.MetricInFlight, nil, 0},
	} {
		v, ok := metricValue(t, base, c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("metric %s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
}

// Overload: more closed-loop clients than the queue holds get 429s while the server keeps
// serving the admitted ones, with no other errors; its queue and batch never grow past their
// bounds, its memory stays flat, it reports itself saturated, and it serves normally after.
func TestLoadgenOverload(t *testing.T) {
	cfg := serveConfig(t)
	cfg.Server.MaxBatchSize, cfg.Server.MaxQueue = 1, 2
	base, _ := startServe(t, cfg, &serveFlags{grace: 20 * time.Second})
	before := loadgen(context.Background(), &loadgenFlags{url: base, model: "tiny", prompt: "warm", clients: 1,
		duration: 300 * time.Millisecond, maxTokens: 8}, http.DefaultClient)
	res := loadgen(context.Background(), &loadgenFlags{url: base, model: "tiny", prompt: "load", clients: 16,
		duration: 1500 * time.Millisecond, maxTokens: 8}, http.DefaultClient)
	if res.Succeeded == 0 || res.Refused == 0 || res.Errors != 0 {
		t.Errorf("overload: %+v, want successes, 429s and no errors", res)
	}
	if res.LatencyP50 <= 0 || res.LatencyP99 < res.LatencyP50 || res.RequestsPerSec <= 0 {
		t.Errorf("figures: %+v", res)
	}
	if res.Scrapes == 0 || res.ServerQueueMax > 2 || res.ServerInFlightMax > 1 {
		t.Errorf("server peaks: %d scrapes, queue %g (bound 2), in flight %g (bound 1)", res.Scrapes, res.ServerQueueMax, res.ServerInFlightMax)
	}
	// The process holds the clients too; 16 of them and a bounded queue need a few MiB.
	if grown := res.ServerRSSMaxBytes - before.ServerRSSMaxBytes; before.ServerRSSMaxBytes == 0 || grown > 128<<20 {
		t.Errorf("resident memory grew by %.0f MiB under overload (from %.0f MiB)", grown/(1<<20), before.ServerRSSMaxBytes/(1<<20))
	}
	if res.ServerSaturationMax <= 1 {
		t.Errorf("saturation peaked at %g while requests were refused, want above 1", res.ServerSaturationMax)
	}
	after := loadgen(context.Background(), &loadgenFlags{url: base, model: "tiny", prompt: "after", clients: 1,
		duration: 300 * time.Millisecond, maxTokens: 8}, http.DefaultClient)
	if after.Succeeded == 0 || after.Refused+after.Errors != 0 {
		t.Errorf("after the overload: %+v, want only successes", after)
	}
}

// A changed cache section of the config file applies live, with the next generation; an
// invalid file changes nothing.
func TestServeReloadsCacheSettings(t *testing.T) {
	cfg := serveConfig(t)
	path := filepath.Join(t.TempDir(), "config.json")
	write := func(c *contract.Config) {
		data, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cfg)
	base, _ := startServe(t, cfg, &serveFlags{config: path, watch: 20 * time.Millisecond, grace: 10 * time.Second})
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if r, err := http.Get(base + contract.MetricsPath); err == nil {
				body, _ := io.ReadAll(r.Body)
				_ = r.Body.Close()
				if r.StatusCode == http.StatusOK && ok(string(body)) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("never saw %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("generation 1", func(m string) bool { return strings.Contains(m, `generation="1"`) })
	next := *cfg
	next.Cache = contract.CacheConfig{Enabled: true, PromptRefreshInterval: 9, ResponseRefreshInterval: 3, TransferPercent: 50}
	write(&next)
	want := `dllm_cache_settings_info{enabled="true",generation="2",prompt_interval="9",response_interval="3",transfer_percent="50"} 1`
	waitFor("the reloaded settings", func(m string) bool { return strings.Contains(m, want) })
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	waitFor("the settings kept", func(m string) bool { return strings.Contains(m, want) })
}

// startServe runs serve with cfg and f until the test ends, waits until it reports ready, and
// returns its base URL and a stop function that ends it (as SIGTERM does) and waits.
// With DLLM_LISTEN_HOST set, the server binds that address alone, so pods that share one
// network (the local cluster's process node) can each serve the declared port.
func TestServeListenHost(t *testing.T) {
	t.Setenv(contract.ListenHostEnv, "127.0.0.2")
	cfg := serveConfig(t)
	base, _ := startServe(t, cfg, &serveFlags{grace: 5 * time.Second})
	if want := fmt.Sprintf("http://127.0.0.2:%d", cfg.Server.Port); base != want {
		t.Fatalf("listening at %s, want %s", base, want)
	}
	if got := httpStatus(fmt.Sprintf("http://127.0.0.1:%d%s", cfg.Server.Port, contract.HealthPath)); got != 0 {
		t.Errorf("another address of the machine answered %d: the server bound more than %s", got, base)
	}
	// The same port on another address is free for a second server.
	other := *cfg
	t.Setenv(contract.ListenHostEnv, "127.0.0.3")
	startServe(t, &other, &serveFlags{grace: 5 * time.Second})
}

func startServe(t *testing.T, cfg *contract.Config, f *serveFlags) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, f, slog.New(slog.NewTextHandler(io.Discard, nil)), addr) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "http://" + strings.Replace(<-addr, "[::]", "127.0.0.1", 1)
	if got := httpStatus(base + contract.HealthPath); got != http.StatusOK {
		t.Fatalf("healthz = %d", got)
	}
	for deadline := time.Now().Add(30 * time.Second); httpStatus(base+contract.ReadyPath) != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return base, stop
}

// httpStatus is the status of GET url, 0 when the request fails.
func httpStatus(url string) int {
	r, err := http.Get(url)
	if err != nil {
		return 0
	}
	_ = r.Body.Close()
	return r.StatusCode
}

// Load progress: the rate so far and the time the rest takes at that rate.
func TestLoadRate(t *testing.T) {
	for _, tc := range []struct {
		handed, total int64
		elapsed       time.Duration
		rate, eta     float64
	}{
		{0, 1000, time.Second, 0, -1},
		{250, 1000, 2 * time.Second, 125, 6},
		{1000, 1000, 4 * time.Second, 250, 0},
	} {
		rate, eta := loadRate(tc.handed, tc.total, tc.elapsed)
		if rate != tc.rate || eta != tc.eta {
			t.Errorf("loadRate(%d, %d, %v) = %g B/s, ETA %g s; want %g, %g", tc.handed, tc.total, tc.elapsed, rate, eta, tc.rate, tc.eta)
		}
	}
}
