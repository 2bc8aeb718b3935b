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

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/server"
	"dllm.dev/dllm-operator/runtime/telemetry"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

const modelName = "tiny-llada"

type fixture struct {
	srv    *server.Server
	url    string
	client openai.Client
	eng    *engine.Engine
}

// newFixture serves a seeded LLaDA-shaped test checkpoint through the real engine and server
// on loopback; queue and batch sizes come from o.
func newFixture(t *testing.T, o engine.Options, mods ...func(*server.Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 5, Layers: 2}); err != nil {
		t.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ck.Close() })
	m, err := families.Load(cpu.New(), ck)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eot := -1
	if id, ok := tok.TokenID(families.EndOfTurn(ck.Config.Family)); ok {
		eot = id
	}
	o.EoTID = eot
	var eng *engine.Engine
	metrics := telemetry.New(func() engine.Load { return eng.Load() })
	o.Observer = metrics
	eng, err = engine.New(m, ck.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	so := server.Options{Model: modelName, Engine: eng, Tokenizer: tok, Config: ck.Config, EoTID: eot,
		Defaults:   engine.Params{Steps: 8, GenLength: 8, BlockLength: 4, Remasking: sampler.LowConfidence},
		MaxContext: 2048, Metrics: metrics}
	for _, mod := range mods {
		mod(&so)
	}
	srv, err := server.New(so)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
	})
	c := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	return &fixture{srv: srv, url: ts.URL, client: c, eng: eng}
}

func apiStatus(t *testing.T, err error) (int, *openai.Error) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want an API error", err)
	}
	return apiErr.StatusCode, apiErr
}

func TestCompletionsChatAndModels(t *testing.T) {
	f := newFixture(t, engine.Options{MaxBatchSize: 4, MaxQueue: 8, Workers: 1})
	ctx := context.Background()

	page, err := f.client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != modelName {
		t.Errorf("models = %+v", page.Data)
	}

	c, err := f.client.Completions.New(ctx, openai.CompletionNewParams{
		Model:     modelName,
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("hello there")},
		MaxTokens: openai.Int(8), Seed: openai.Int(3), N: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 2 || c.Model != modelName || c.Usage.PromptTokens == 0 ||
		c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens || c.Usage.CompletionTokens > 16 {
		t.Errorf("completion = %+v", c)
	}
	for _, ch := range c.Choices {
		if ch.FinishReason != "stop" && ch.FinishReason != "length" {
			t.Errorf("finish reason %q", ch.FinishReason)
		}
	}
	// Greedy and seeded: the same request gives the same text.
	again, err := f.client.Completions.New(ctx, openai.CompletionNewParams{
		Model: modelName, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("hello there")},
		MaxTokens: openai.Int(8), Seed: openai.Int(3), N: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if again.Choices[0].Text != c.Choices[0].Text {
		t.Errorf("same request, different text: %q vs %q", again.Choices[0].Text, c.Choices[0].Text)
	}

	chat, err := f.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:     modelName,
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
		MaxTokens: openai.Int(4),
	}, option.WithJSONSet("dllm", map[string]any{"steps": 4, "block_length": 4,
		"cache": map[string]any{"prompt_refresh_interval": 3, "response_refresh_interval": 2, "transfer_ratio": 0.25}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(chat.Choices) != 1 || chat.Choices[0].Message.Role != "assistant" || chat.Object != "chat.completion" {
		t.Errorf("chat = %+v", chat)
	}
}

// Streaming sends text as tokens commit; the chunks add up to the non-streamed text.
func TestStreaming(t *testing.T) {
	f := newFixture(t, engine.Options{MaxBatchSize: 1, MaxQueue: 4, Workers: 1})
	ctx := context.Background()
	params := openai.CompletionNewParams{Model: modelName,
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("stream me")},
		MaxTokens: openai.Int(16)}
	want, err := f.client.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	stream := f.client.Completions.NewStreaming(ctx, params)
	var got strings.Builder
	chunks, finish := 0, ""
	for stream.Next() {
		ch := stream.Current()
		for _, c := range ch.Choices {
			got.WriteString(c.Text)
			if c.FinishReason != "" {
				finish = string(c.FinishReason)
			}
		}
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.Choices[0].Text || finish != string(want.Choices[0].FinishReason) || chunks < 2 {
		t.Errorf("streamed %q (%d chunks, finish %q), want %q (finish %q)", got.String(), chunks, finish,
			want.Choices[0].Text, want.Choices[0].FinishReason)
	}

	cs := f.client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: modelName,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, MaxTokens: openai.Int(8)})
	var acc openai.ChatCompletionAccumulator
	for cs.Next() {
		acc.AddChunk(cs.Current())
	}
	if err := cs.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].FinishReason == "" {
		t.Errorf("accumulated chat stream = %+v", acc.ChatCompletion)
	}
}

// Every 4xx the API promises, through the official client.
func TestErrors(t *testing.T) {
	f := newFixture(t, engine.Options{MaxBatchSize: 1, MaxQueue: 1, Workers: 1})
	ctx := context.Background()
	prompt := openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}
	for _, tc := range []struct {
		name   string
		params openai.CompletionNewParams
		opts   []option.RequestOption
		status int
		param  string
	}{
		{"unknown model", openai.CompletionNewParams{Model: "nope", Prompt: prompt}, nil, 404, "model"},
		{"temperature", openai.CompletionNewParams{Model: modelName, Prompt: prompt, Temperature: openai.Float(9)}, nil, 400, "temperature"},
		{"max_tokens", openai.CompletionNewParams{Model: modelName, Prompt: prompt, MaxTokens: openai.Int(0)}, nil, 400, "max_tokens"},
		{"n", openai.CompletionNewParams{Model: modelName, Prompt: prompt, N: openai.Int(99)}, nil, 400, "n"},
		{"too long", openai.CompletionNewParams{Model: modelName, Prompt: prompt, MaxTokens: openai.Int(4000)}, nil, 400, "messages"},
		{"empty prompt", openai.CompletionNewParams{Model: modelName, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("")}}, nil, 400, "prompt"},
		{"remasking", openai.CompletionNewParams{Model: modelName, Prompt: prompt}, []option.RequestOption{option.WithJSONSet("dllm", map[string]any{"remasking": "sideways"})}, 400, "dllm.remasking"},
		{"cache bounds", openai.CompletionNewParams{Model: modelName, Prompt: prompt}, []option.RequestOption{option.WithJSONSet("dllm", map[string]any{"cache": map[string]any{"transfer_ratio": 2}})}, 400, "dllm.cache"},
	} {
		_, err := f.client.Completions.New(ctx, tc.params, tc.opts...)
		status, apiErr := apiStatus(t, err)
		if status != tc.status || apiErr.Param != tc.param || apiErr.Message == "" {
			t.Errorf("%s: status %d param %q (%q), want %d %q", tc.name, status, apiErr.Param, apiErr.Message, tc.status, tc.param)
		}
	}
	_, err := f.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: modelName})
	if status, apiErr := apiStatus(t, err); status != 400 || apiErr.Param != "messages" {
		t.Errorf("no messages: %d %q", status, apiErr.Param)
	}
	resp, err := http.Post(f.url+"/v1/completions", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("malformed JSON: status %d", resp.StatusCode)
	}
	resp, err = http.Post(f.url+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"`+strings.Repeat("a", 5<<20)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("oversized body: status %d", resp.StatusCode)
	}

	f.srv.SetReady(false)
	if r, err := http.Get(f.url + "/readyz"); err != nil || r.StatusCode != 503 {
		t.Errorf("readyz while not ready: %v %v", r.StatusCode, err)
	}
	_, err = f.client.Completions.New(ctx, openai.CompletionNewParams{Model: modelName, Prompt: prompt})
	if status, _ := apiStatus(t, err); status != 503 {
		t.Errorf("not ready: status %d", status)
	}
	f.srv.SetReady(true)
	if r, err := http.Get(f.url + "/healthz"); err != nil || r.StatusCode != 200 {
		t.Errorf("healthz: %v %v", r.StatusCode, err)
	}
}

// With the queue full, more requests get 429 at once while the admitted ones complete; a
// cancelled request returns without waiting for the model.
func TestQueueFullAndCancel(t *testing.T) {
	f := newFixture(t, engine.Options{MaxBatchSize: 1, MaxQueue: 1, Workers: 1})
	long := openai.CompletionNewParams{Model: modelName, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("long")},
		MaxTokens: openai.Int(64)}
	var wg sync.WaitGroup
	results := make(chan error, 12)
	for range 12 {
		wg.Go(func() {
			_, err := f.client.Completions.New(context.Background(), long, option.WithJSONSet("dllm", map[string]any{"steps": 64, "block_length": 64}))
			results <- err
		})
	}
	wg.Wait()
	close(results)
	ok, full := 0, 0
	for err := range results {
		if err == nil {
			ok++
			continue
		}
		if status, _ := apiStatus(t, err); status == 429 {
			full++
		} else {
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok == 0 || full == 0 {
		t.Errorf("%d served and %d refused with 429; want both", ok, full)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.client.Completions.New(ctx, openai.CompletionNewParams{Model: modelName,
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("cancel me")}, MaxTokens: openai.Int(2000)},
		option.WithJSONSet("dllm", map[string]any{"steps": 2000, "block_length": 2000}))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled request: err %v after %v, want the deadline at once", err, time.Since(start))
	}
	deadline := time.Now().Add(2 * time.Second) // the whole run would take far longer
	for l := f.eng.Load(); l.Queued+l.InFlight+l.PendingSteps != 0; l = f.eng.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled request still occupies the engine: %+v", f.eng.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The admin API changes the cache settings of later requests, behind a bearer token, and the
// change shows in /metrics with the next generation.
func TestAdminCache(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, engine.Options{MaxBatchSize: 1, MaxQueue: 4, Workers: 1}, func(o *server.Options) { o.AdminTokenFile = tokenFile })
	call := func(method, token, body string) (int, map[string]any) {
		req, err := http.NewRequest(method, f.url+contract.AdminCachePath, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := call(http.MethodGet, "", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := call(http.MethodGet, "wrong", ""); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, st := call(http.MethodGet, "s3cret", ""); code != 200 || st["enabled"] != false || st["generation"] != 1.0 {
		t.Errorf("GET: %d %v", code, st)
	}
	for body, param := range map[string]string{
		`{"enabled":true,"promptRefreshInterval":5,"responseRefreshInterval":3,"transferPercent":150}`: "transferPercent",
		`{"enabled":true,"promptRefreshInterval":0,"responseRefreshInterval":3}`:                       "promptRefreshInterval",
		`{"enabled":true,"kp":3}`: "body",
	} {
		code, out := call(http.MethodPut, "s3cret", body)
		e, _ := out["error"].(map[string]any)
		if code != 400 || e["param"] != param {
			t.Errorf("PUT %s: %d %v, want 400 naming %s", body, code, out, param)
		}
	}
	code, st := call(http.MethodPut, "s3cret", `{"enabled":true,"promptRefreshInterval":5,"responseRefreshInterval":3,"transferPercent":25}`)
	if code != 200 || st["generation"] != 2.0 || st["promptRefreshInterval"] != 5.0 {
		t.Fatalf("PUT: %d %v", code, st)
	}
	// The same settings again are no change: the generation stays, so observation windows
	// spanning the call still count.
	if code, st := call(http.MethodPut, "s3cret", `{"enabled":true,"promptRefreshInterval":5,"responseRefreshInterval":3,"transferPercent":25}`); code != 200 || st["generation"] != 2.0 {
		t.Errorf("PUT of the settings in force: %d %v, want generation 2 again", code, st)
	}
	if _, err := f.client.Completions.New(context.Background(), openai.CompletionNewParams{Model: modelName,
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("after the change")}}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(f.url + contract.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{
		`dllm_cache_settings_info{enabled="true",generation="2",prompt_interval="5",response_interval="3",transfer_percent="25"} 1`,
		`dllm_cache_refreshes_total{kind="prompt"} 2`, // 8 passes, K_p 5: passes 1 and 6
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	off := newFixture(t, engine.Options{MaxBatchSize: 1, MaxQueue: 1, Workers: 1})
	req, _ := http.NewRequest(http.MethodGet, off.url+contract.AdminCachePath, nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("admin without a token file: %v %v", resp.StatusCode, err)
	}
}

// With shadow checks on, a cached request is also checked against the exact path, and its
// token agreement and top-1 agreement at sampled passes are recorded under the settings'
// generation.
func TestShadowAgreement(t *testing.T) {
	f := newFixture(t, engine.Options{MaxBatchSize: 1, MaxQueue: 4, Workers: 1}, func(o *server.Options) {
		o.Defaults.Cache = &featcache.Settings{PromptInterval: 4, ResponseInterval: 2, TransferRatio: 0.25}
		o.ShadowPercent = 100
	})
	if _, err := f.client.Completions.New(context.Background(), openai.CompletionNewParams{Model: modelName,
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("shadow me")}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(f.url + contract.MetricsPath)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if strings.Contains(string(text), `dllm_shadow_requests_total{generation="1"} 1`) {
			if !strings.Contains(string(text), `dllm_shadow_tokens_compared_total{generation="1"} 8`) ||
				!strings.Contains(string(text), `dllm_shadow_tokens_agreed_total{generation="1"}`) ||
				!strings.Contains(string(text), `dllm_shadow_top1_compared_total{generation="1"}`) ||
				!strings.Contains(string(text), `dllm_shadow_top1_agreement_ratio_count{generation="1"} 1`) {
				t.Errorf("shadow counts missing:\n%s", text)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no shadow comparison recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
