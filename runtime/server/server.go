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

package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/telemetry"
	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// Limits of one request.
const (
	// maxBodyBytes bounds a request body (413 beyond).
	maxBodyBytes = 4 << 20
	// maxChoices bounds n.
	maxChoices = 16
)

// Options configure a server.
type Options struct {
	// Model is the model ID the API reports and accepts.
	Model string
	// Engine runs the requests; Tokenizer encodes prompts and decodes answers.
	Engine    *engine.Engine
	Tokenizer *tokenizer.Tokenizer
	// Config is the checkpoint's configuration (family, special token ids).
	Config weights.Config
	// EoTID is the chat end-of-turn token id, or −1.
	EoTID int
	// Defaults are the sampler settings of a request that sets none (Seed is ignored).
	Defaults engine.Params
	// MaxContext bounds prompt plus response tokens (400 beyond).
	MaxContext int
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
	// Metrics, if set, records every request and is served on contract.MetricsPath.
	Metrics *telemetry.Metrics
	// AdminTokenFile holds the bearer token of the admin endpoints, read at every admin
	// request (so a rotated Secret takes effect); "" disables them.
	AdminTokenFile string
	// ShadowPercent is the percent of cached requests also computed without the cache, when
	// the engine has nothing queued, to measure the cache's token agreement (Metrics).
	ShadowPercent int
}

// Server is the HTTP front end. Create it with New; it reports ready once SetReady(true).
type Server struct {
	o     Options
	ready atomic.Bool
	log   *slog.Logger

	mu         sync.Mutex
	cache      *featcache.Settings // active cache settings of new requests (nil: off)
	generation int                 // counts cache-setting changes from 1
}

// New returns a server for o.
func New(o Options) (*Server, error) {
	switch {
	case o.Engine == nil || o.Tokenizer == nil:
		return nil, errors.New("server: an engine and a tokenizer are required")
	case o.Model == "":
		return nil, errors.New("server: a model name is required")
	case o.Defaults.GenLength < 1 || o.Defaults.Steps < 1:
		return nil, errors.New("server: default gen length and steps must be positive")
	case o.MaxContext < 1:
		return nil, errors.New("server: max context must be positive")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: log, cache: o.Defaults.Cache, generation: 1}
	if o.Metrics != nil {
		s.generation = o.Metrics.SetCacheSettings(o.Defaults.Cache)
	}
	return s, nil
}

// defaults returns the sampler settings of a request that sets none, with the active cache
// settings and their generation.
func (s *Server) defaults() (engine.Params, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.o.Defaults
	p.Cache = s.cache
	return p, s.generation
}

// shadow checks a cached request against the exact path, at low priority (only when the
// engine has nothing queued, and never counted against clients): the exact path's top-1
// predictions on the canvases of the served run's probes, then the whole generation again
// without the cache, whose response tokens are compared with what was served.
func (s *Server) shadow(prompt []int, p engine.Params, served *engine.Result, generation int) {
	if s.o.Engine.Load().Queued > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var r telemetry.ShadowResult
	var err error
	if r.Top1Compared, r.Top1Agreed, err = s.o.Engine.Check(ctx, served.Probes); err != nil {
		s.log.Debug("shadow check not run", "err", err)
		return
	}
	p.Cache = nil
	res, err := s.o.Engine.Generate(ctx, engine.Request{Prompt: prompt, Params: p})
	if err != nil {
		s.log.Debug("shadow request not run", "err", err)
		return
	}
	r.Compared = len(res.Generated)
	for i, id := range res.Generated {
		if i < len(served.Generated) && served.Generated[i] == id {
			r.Agreed++
		}
	}
	s.o.Metrics.Shadow(generation, r)
}

// SetReady marks the server ready (weights loaded, warm-up done) or not.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Handler returns the HTTP handler of the API and the probes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+contract.HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+contract.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			writeError(w, notReady())
			return
		}
		writeJSON(w, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET "+contract.APIPath+"/models", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"object": "list", "data": []modelEntry{s.modelEntry()}})
	})
	mux.HandleFunc("GET "+contract.APIPath+"/models/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != s.o.Model {
			writeError(w, unknownModel(r.PathValue("id")))
			return
		}
		writeJSON(w, s.modelEntry())
	})
	if s.o.Metrics != nil {
		mux.Handle("GET "+contract.MetricsPath, s.o.Metrics.Handler())
	}
	mux.HandleFunc("GET "+contract.AdminCachePath, s.admin(s.getCache))
	mux.HandleFunc("PUT "+contract.AdminCachePath, s.admin(s.putCache))
	mux.HandleFunc("POST "+contract.APIPath+"/completions", s.completions)
	mux.HandleFunc("POST "+contract.APIPath+"/chat/completions", s.chat)
	return mux
}

func (s *Server) modelEntry() modelEntry {
	return modelEntry{ID: s.o.Model, Object: "model", Created: 0, OwnedBy: "dllm-operator"}
}

func notReady() *apiError {
	return &apiError{status: http.StatusServiceUnavailable, Msg: "the model is still loading", Type: typeServer}
}

func unknownModel(name string) *apiError {
	return &apiError{status: http.StatusNotFound, Msg: fmt.Sprintf("the model %q does not exist", name),
		Type: typeInvalid, Param: new("model"), Code: new("model_not_found")}
}

// decode reads a JSON body into v, rejecting unknown fields is not done: OpenAI clients send
// fields this server ignores (user, logit_bias...).
func decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := json.NewDecoder(body).Decode(v); err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return &apiError{status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body over %d bytes", maxBodyBytes), Type: typeInvalid}
		}
		return &apiError{status: http.StatusBadRequest, Msg: "invalid JSON body: " + err.Error(), Type: typeInvalid}
	}
	return nil
}

// job is a validated request: the prompt's ids, n engine requests' settings and stops.
type job struct {
	prompt     []int
	params     engine.Params
	n          int
	stops      []string
	generation int // of the cache settings params carries
}

// prepare validates the shared fields and builds the engine settings for prompt.
func (s *Server) prepare(c requestCommon, prompt []int) (*job, *apiError) {
	if !s.ready.Load() {
		return nil, notReady()
	}
	if c.Model != s.o.Model {
		return nil, unknownModel(c.Model)
	}
	p, generation := s.defaults()
	p.Seed = 0
	n := 1
	if c.N != nil {
		if *c.N < 1 || *c.N > maxChoices {
			return nil, badRequest("n", "n must be between 1 and %d, got %d", maxChoices, *c.N)
		}
		n = *c.N
	}
	if err := s.applySampling(&p, c); err != nil {
		return nil, err
	}
	if err := s.applyExtension(&p, c.DLLM); err != nil {
		return nil, err
	}
	if c.DLLM != nil && c.DLLM.Cache != nil {
		generation = 0 // the request's own cache settings: no generation, no shadow checks
	}
	if c.MaxTokens != nil {
		if *c.MaxTokens < 1 || *c.MaxTokens > contract.MaxGenLength {
			return nil, badRequest("max_tokens", "max_tokens must be between 1 and %d, got %d", contract.MaxGenLength, *c.MaxTokens)
		}
		s.applyMaxTokens(&p, *c.MaxTokens, c.DLLM)
	}
	if total := len(prompt) + p.GenLength; total > s.o.MaxContext {
		return nil, &apiError{status: http.StatusBadRequest, Type: typeInvalid, Param: new("messages"),
			Code: new("context_length_exceeded"),
			Msg:  fmt.Sprintf("this model's context is %d tokens; the prompt has %d and the response %d", s.o.MaxContext, len(prompt), p.GenLength)}
	}
	stops, err := parseStop(c.Stop)
	if err != nil {
		return nil, err
	}
	return &job{prompt: prompt, params: p, n: n, stops: stops, generation: generation}, nil
}

// applySampling applies temperature, top_p and seed.
func (s *Server) applySampling(p *engine.Params, c requestCommon) *apiError {
	if c.Temperature != nil {
		if *c.Temperature < 0 || *c.Temperature > float64(contract.MaxTemperatureMilli)/1000 {
			return badRequest("temperature", "temperature must be between 0 and %g, got %g", float64(contract.MaxTemperatureMilli)/1000, *c.Temperature)
		}
		p.Temperature = *c.Temperature
	}
	if c.TopP != nil {
		if *c.TopP <= 0 || *c.TopP > 1 {
			return badRequest("top_p", "top_p must be in (0, 1], got %g", *c.TopP)
		}
		if s.o.Config.Family == weights.FamilyDream {
			p.TopP = *c.TopP
		} else if *c.TopP != 1 {
			return badRequest("top_p", "top_p is not supported by the %s sampler; leave it at 1", s.o.Config.Family)
		}
	}
	if c.Seed != nil {
		p.Seed = uint64(*c.Seed)
	}
	return nil
}

// applyMaxTokens maps max_tokens to the response length and steps (see the package doc).
func (s *Server) applyMaxTokens(p *engine.Params, maxTokens int, ext *extension) {
	block := p.BlockLength
	if block == 0 || s.o.Config.Family == weights.FamilyDream {
		block = maxTokens
	}
	gen := (maxTokens + block - 1) / block * block
	if p.BlockLength != 0 && s.o.Config.Family != weights.FamilyDream {
		p.BlockLength = block
	} else {
		p.BlockLength = 0
	}
	if ext == nil || ext.Steps == nil {
		d := s.o.Defaults
		blocks := gen / block
		steps := (gen*d.Steps + d.GenLength - 1) / d.GenLength
		steps = max(blocks, (steps+blocks-1)/blocks*blocks)
		p.Steps = steps
	}
	p.GenLength = gen
}

// applyExtension applies the dllm extension object.
func (s *Server) applyExtension(p *engine.Params, ext *extension) *apiError {
	if ext == nil {
		return nil
	}
	if ext.Steps != nil {
		if *ext.Steps < 1 || *ext.Steps > contract.MaxSteps {
			return badRequest("dllm.steps", "steps must be between 1 and %d, got %d", contract.MaxSteps, *ext.Steps)
		}
		p.Steps = *ext.Steps
	}
	if ext.BlockLength != nil {
		if *ext.BlockLength < 1 || *ext.BlockLength > contract.MaxGenLength {
			return badRequest("dllm.block_length", "block_length must be between 1 and %d, got %d", contract.MaxGenLength, *ext.BlockLength)
		}
		p.BlockLength = *ext.BlockLength
	}
	if ext.Remasking != nil {
		r, err := sampler.ParseRemasking(*ext.Remasking)
		if err != nil {
			return badRequest("dllm.remasking", "%v", err)
		}
		p.Remasking = r
	}
	if ext.Algorithm != nil {
		a, err := sampler.ParseAlgorithm(*ext.Algorithm)
		if err != nil {
			return badRequest("dllm.algorithm", "%v", err)
		}
		p.Algorithm = a
	}
	if ext.Threshold != nil {
		if *ext.Threshold < 0 || *ext.Threshold > 1 {
			return badRequest("dllm.parallel_threshold", "parallel_threshold must be in [0, 1], got %g", *ext.Threshold)
		}
		p.Threshold = *ext.Threshold
	}
	return applyCache(p, ext.Cache)
}

// applyCache applies the extension's cache overrides, validated against featcache's bounds.
func applyCache(p *engine.Params, c *cacheJSON) *apiError {
	if c == nil {
		return nil
	}
	if c.Enabled != nil && !*c.Enabled {
		p.Cache = nil
		return nil
	}
	set := featcache.Settings{PromptInterval: 1, ResponseInterval: 1}
	if p.Cache != nil {
		set = *p.Cache
	}
	if c.PromptRefreshInterval != nil {
		set.PromptInterval = *c.PromptRefreshInterval
	}
	if c.ResponseRefreshInterval != nil {
		set.ResponseInterval = *c.ResponseRefreshInterval
	}
	if c.TransferRatio != nil {
		set.TransferRatio = *c.TransferRatio
	}
	if err := set.Validate(); err != nil {
		return badRequest("dllm.cache", "%v", err)
	}
	p.Cache = &set
	return nil
}

// parseStop reads stop: a string or an array of up to four strings.
func parseStop(raw json.RawMessage) ([]string, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) > 4 {
		return nil, badRequest("stop", "stop must be a string or an array of at most 4 strings")
	}
	return many, nil
}

// choice is one finished generation.
type choice struct {
	text   string
	finish string
	tokens int
}

// generate runs the job's n choices (seeds seed, seed+1, ...) through the engine, calling
// onDelta (if set) with choice index and new text as tokens commit. onDelta calls are serial,
// and none happens after generate returns.
func (s *Server) generate(ctx context.Context, j *job, onDelta func(i int, text string)) ([]choice, *apiError) {
	out := make([]choice, j.n)
	errs := make([]error, j.n)
	var wg sync.WaitGroup
	// mu serialises the streamers and onDelta; a choice whose result is in (or whose request
	// has gone) takes no more updates from the engine, which may still run its batch.
	var mu sync.Mutex
	finished := make([]bool, j.n)
	deliver := func(i int, last bool, delta func() string) {
		mu.Lock()
		defer mu.Unlock()
		if finished[i] {
			return
		}
		finished[i] = last
		if d := delta(); d != "" {
			onDelta(i, d)
		}
	}
	for i := range j.n {
		wg.Go(func() {
			p := j.params
			p.Seed += uint64(i)
			gen := j.generation
			st := &streamer{s: s, stops: j.stops}
			shadowed := p.Cache != nil && gen > 0 && s.o.Metrics != nil && s.o.ShadowPercent > 0 && mrand.IntN(100) < s.o.ShadowPercent
			req := engine.Request{Prompt: j.prompt, Params: p, Trace: shadowed}
			if onDelta != nil {
				req.OnUpdate = func(u engine.Update) {
					deliver(i, false, func() string { return st.update(u.Response) })
				}
			}
			res, err := s.o.Engine.Generate(ctx, req)
			if err != nil {
				mu.Lock()
				finished[i] = true
				mu.Unlock()
				errs[i] = err
				return
			}
			if shadowed {
				go s.shadow(j.prompt, p, res, gen)
			}
			text, finish, n := s.finish(res.Generated, j.stops)
			if s.o.Metrics != nil {
				s.o.Metrics.Request(res.Duration, res.QueueWait, res.Steps, len(j.prompt), n)
			}
			if onDelta != nil {
				deliver(i, true, func() string { return st.rest(text) })
			}
			out[i] = choice{text: text, finish: finish, tokens: n}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, s.engineError(err)
		}
	}
	return out, nil
}

// engineError maps an engine error to an API error.
func (s *Server) engineError(err error) *apiError {
	switch {
	case errors.Is(err, engine.ErrQueueFull):
		return &apiError{status: http.StatusTooManyRequests, Msg: "the server's queue is full; retry later", Type: "rate_limit_error", Code: new("queue_full")}
	case errors.Is(err, engine.ErrClosed):
		return &apiError{status: http.StatusServiceUnavailable, Msg: "the server is shutting down", Type: typeServer}
	case errors.Is(err, engine.ErrInvalid):
		return &apiError{status: http.StatusBadRequest, Msg: err.Error(), Type: typeInvalid}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: 499, Msg: "the request was cancelled", Type: typeInvalid}
	}
	s.log.Error("generation failed", "err", err)
	return &apiError{status: http.StatusInternalServerError, Msg: "generation failed", Type: typeServer}
}

// answer returns the response tokens up to the first end-of-sequence or end-of-turn token and
// whether one was found.
func (s *Server) answer(ids []int) ([]int, bool) {
	for i, id := range ids {
		if id == s.o.Config.EOSTokenID || id == s.o.EoTID {
			return ids[:i], true
		}
	}
	return ids, false
}

// decodeIDs returns the text of ids, skipping special tokens and ids the tokenizer lacks.
func (s *Server) decodeIDs(ids []int) string {
	text, err := s.o.Tokenizer.DecodeKnown(ids)
	if err != nil {
		s.log.Error("decode", "err", err)
	}
	return text
}

// finish returns a finished response's text (cut at a stop sequence), finish reason and
// completion token count.
func (s *Server) finish(ids []int, stops []string) (string, string, int) {
	ans, ended := s.answer(ids)
	text := s.decodeIDs(ans)
	reason := "length"
	if ended {
		reason = "stop"
	}
	if cut, ok := cutStop(text, stops); ok {
		text, reason = cut, "stop"
	}
	return text, reason, len(ans)
}

// cutStop cuts text before the earliest stop sequence.
func cutStop(text string, stops []string) (string, bool) {
	best := -1
	for _, st := range stops {
		if i := strings.Index(text, st); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return text, false
	}
	return text[:best], true
}

// streamer turns a response's successive states into text deltas: the text of the committed
// prefix (the tokens before the first still-masked position), held back while it may still
// become a stop sequence or ends in an incomplete character.
type streamer struct {
	s     *Server
	stops []string
	sent  string
	done  bool
}

// update returns the new text the response state r commits.
func (st *streamer) update(r []int) string {
	if st.done {
		return ""
	}
	n := 0
	for n < len(r) && r[n] != st.s.o.Config.MaskTokenID {
		n++
	}
	ans, _ := st.s.answer(r[:n])
	text := st.s.decodeIDs(ans)
	if cut, ok := cutStop(text, st.stops); ok {
		text, st.done = cut, true
	} else {
		text = strings.TrimRight(text, "\uFFFD")
		for _, stop := range st.stops { // hold back what could start a stop sequence
			for k := min(len(stop)-1, len(text)); k > 0; k-- {
				if strings.HasSuffix(text, stop[:k]) {
					text = text[:len(text)-k]
					break
				}
			}
		}
	}
	if !strings.HasPrefix(text, st.sent) || len(text) <= len(st.sent) {
		return ""
	}
	d := text[len(st.sent):]
	st.sent = text
	return d
}

// rest returns what the final text adds to what was sent.
func (st *streamer) rest(final string) string {
	if strings.HasPrefix(final, st.sent) {
		d := final[len(st.sent):]
		st.sent = final
		return d
	}
	return ""
}

// newID returns a response id with prefix.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// sse writes server-sent events.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, f: f}
}

func (e *sse) send(v any) {
	data, _ := json.Marshal(v)
	_, _ = fmt.Fprintf(e.w, "data: %s\n\n", data)
	if e.f != nil {
		e.f.Flush()
	}
}

func (e *sse) done() {
	_, _ = io.WriteString(e.w, "data: [DONE]\n\n")
	if e.f != nil {
		e.f.Flush()
	}
}

// now is the creation timestamp of responses.
func now() int64 { return time.Now().Unix() }
