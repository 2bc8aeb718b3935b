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
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/server"
	"dllm.dev/dllm-operator/runtime/telemetry"
	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// serveFlags are the serve subcommand's flags.
type serveFlags struct {
	config     string
	threads    int
	grace      time.Duration
	adminToken string
	// watch is how often the config file is checked for new cache settings (0: never).
	watch time.Duration
}

// runServe runs the serve subcommand until SIGTERM or SIGINT, then drains.
func runServe(args []string, _, stderr io.Writer) int {
	flags := flag.NewFlagSet(contract.ServeCommand, flag.ContinueOnError)
	flags.SetOutput(stderr)
	var f serveFlags
	flags.StringVar(&f.config, "config", contract.ConfigPath, "Runtime configuration file (JSON, runtime/contract's schema).")
	flags.IntVar(&f.threads, "threads", 0, "CPU threads; 0 means every core.")
	flags.DurationVar(&f.grace, "grace", 30*time.Second, "How long a shutdown waits for in-flight requests.")
	flags.StringVar(&f.adminToken, strings.TrimPrefix(contract.AdminTokenFlag, "--"), contract.AdminTokenPath,
		"Bearer token of the admin endpoints (live cache settings); without the file they are disabled.")
	flags.DurationVar(&f.watch, "watch-config", 5*time.Second,
		"How often to reread the config file; changed cache settings apply to new requests (0: never).")
	flags.Usage = func() {
		say(flags.Output(), "Usage: dllm-runtime serve --config FILE [flags]\n\nFlags:\n")
		flags.PrintDefaults()
	}
	if code, ok := parseFlags(flags, args); !ok {
		return code
	}
	if flags.NArg() > 0 {
		say(stderr, "dllm-runtime serve: unexpected arguments %q\n", flags.Args())
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg, err := readConfig(f.config)
	if err != nil {
		log.Error("invalid configuration", "file", f.config, "err", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, cfg, &f, log, nil); err != nil {
		log.Error("serve", "err", err)
		return exitError
	}
	return exitOK
}

// readConfig reads and validates the configuration file.
func readConfig(path string) (*contract.Config, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = file.Close() }()
	return contract.Parse(file)
}

// serve listens on the configured port at once (liveness answers while the model loads),
// loads and warms up the model, reports ready, and serves until ctx ends; it then stops
// accepting connections and waits up to the grace period for in-flight requests. listening,
// if set, receives the listener's address.
func serve(ctx context.Context, cfg *contract.Config, f *serveFlags, log *slog.Logger, listening chan<- string) error {
	// A backend this binary cannot run fails before the pod reports live.
	if kind, _, err := configBackend(cfg.Model); err != nil {
		return err
	} else if kind == backendCUDA && !cudaBuilt {
		return fmt.Errorf("model.backend %s: %w", cfg.Model.Backend, errNoCUDA)
	}
	addr := net.JoinHostPort(os.Getenv(contract.ListenHostEnv), strconv.Itoa(cfg.Server.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (%s=%q): %w", addr, contract.ListenHostEnv, os.Getenv(contract.ListenHostEnv), err)
	}
	if listening != nil {
		listening <- ln.Addr().String()
	}
	front := &frontDoor{}
	hs := &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	srv, eng, closeModel, err := load(cfg, f, log)
	if err != nil {
		_ = hs.Close()
		return err
	}
	defer closeModel()
	front.set(srv.Handler())
	srv.SetReady(true)
	log.Info("ready", "model", cfg.Model.Name)
	if f.config != "" && f.watch > 0 {
		go watchConfig(ctx, f.config, f.watch, *cfg, srv, log)
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", f.grace.String())
	srv.SetReady(false)
	sctx, cancel := context.WithTimeout(context.Background(), f.grace)
	defer cancel()
	err = hs.Shutdown(sctx) // stops accepting; waits for in-flight requests
	if cerr := eng.Close(sctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	log.Info("stopped")
	return nil
}

// watchConfig rereads the config file every interval until ctx ends. A changed cache section
// applies to new requests (the operator leaves it out of the Pod template hash for that); other
// changes need a restart, which the operator's rollout does, so they are only logged. An
// invalid file is logged and ignored.
func watchConfig(ctx context.Context, path string, every time.Duration, running contract.Config, srv *server.Server, log *slog.Logger) {
	active := running.Cache
	rest := running
	rest.Cache = contract.CacheConfig{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cfg, err := readConfig(path)
		if err != nil {
			log.Warn("config file unreadable; keeping the running settings", "file", path, "err", err)
			continue
		}
		other := *cfg
		other.Cache = contract.CacheConfig{}
		if other != rest {
			log.Warn("config changes other than the cache settings need a restart", "file", path)
			rest = other
		}
		if cfg.Cache == active {
			continue
		}
		active = cfg.Cache
		srv.SetCacheSettings(server.CacheSettingsOf(cfg.Cache), "config file")
	}
}

// frontDoor answers the probes (alive, not ready) until the API handler is set.
type frontDoor struct {
	h atomic.Pointer[http.Handler]
}

func (d *frontDoor) set(h http.Handler) { d.h.Store(&h) }

func (d *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := d.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case contract.HealthPath:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":{"message":"the model is still loading","type":"server_error","param":null,"code":null}}`+"\n")
	}
}

// load loads the checkpoint (logging bytes and rate), the tokenizer, warms the model up with
// one forward pass and builds the engine and the server.
func load(cfg *contract.Config, f *serveFlags, log *slog.Logger) (*server.Server, *engine.Engine, func(), error) {
	size := checkpointBytes(cfg.Model.Dir)
	log.Info("loading model", "dir", cfg.Model.Dir, "bytes", size)
	start := time.Now()
	ck, err := weights.Open(cfg.Model.Dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if string(ck.Config.Family) != cfg.Model.Family {
		_ = ck.Close()
		return nil, nil, nil, fmt.Errorf("model.family is %s but the checkpoint in %s is %s", cfg.Model.Family, cfg.Model.Dir, ck.Config.Family)
	}
	kind, precision, err := configBackend(cfg.Model)
	if err != nil {
		_ = ck.Close()
		return nil, nil, nil, err
	}
	be, closeBackend, err := openBackend(kind, precision, f.threads)
	if err != nil {
		_ = ck.Close()
		return nil, nil, nil, fmt.Errorf("model.backend %s: %w", cfg.Model.Backend, err)
	}
	log.Info("backend", "name", be.Name())
	cleanup := func() {
		_ = ck.Close()
		closeBackend()
	}
	stopProgress := logProgress(log, ck, start, progressInterval)
	m, err := families.Load(be, ck)
	stopProgress()
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	secs := time.Since(start).Seconds()
	log.Info("model loaded", "bytes", size, "seconds", secs, "bytes_per_second", float64(size)/max(secs, 1e-9))
	tok, err := tokenizer.Load(cfg.Model.Dir)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	start = time.Now()
	if _, err := m.Logits(context.Background(), [][]int{{0, 1, 2, 3, 4, 5, 6, ck.Config.MaskTokenID}}, nil, 7, 8); err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("warm-up forward pass: %w", err)
	}
	log.Info("warmed up", "seconds", time.Since(start).Seconds())
	defaults := defaultParams(cfg, ck.Config.Family)
	eot := endOfTurnID(tok, ck.Config.Family)
	var eng *engine.Engine
	metrics := telemetry.New(func() engine.Load { return eng.Load() })
	eng, err = engine.New(m, ck.Config, engine.Options{MaxBatchSize: cfg.Server.MaxBatchSize,
		MaxQueue: cfg.Server.MaxQueue, Workers: 1, EoTID: eot, Observer: metrics})
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	adminToken := f.adminToken
	if _, err := os.Stat(adminToken); adminToken != "" && err != nil {
		log.Info("admin endpoints disabled", "token_file", adminToken, "reason", err.Error())
		adminToken = ""
	} else if adminToken != "" {
		log.Info("admin endpoints enabled", "token_file", adminToken)
	}
	srv, err := server.New(server.Options{Model: cfg.Model.Name, Engine: eng, Tokenizer: tok, Config: ck.Config,
		EoTID: eot, Defaults: defaults, MaxContext: maxContext(ck.Config), Logger: log, Metrics: metrics,
		AdminTokenFile: adminToken, ShadowPercent: cfg.Cache.ShadowPercent})
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return srv, eng, cleanup, nil
}

// progressInterval is how often a long load logs its progress.
const progressInterval = 5 * time.Second

// logProgress logs the checkpoint's load progress every interval until the returned function
// is called.
func logProgress(log *slog.Logger, ck *weights.Checkpoint, start time.Time, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				handed, total := ck.Progress()
				rate, eta := loadRate(handed, total, now.Sub(start))
				log.Info("loading model", "bytes", handed, "of_bytes", total, "bytes_per_second", rate, "eta_seconds", eta)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// loadRate is the read rate in bytes per second of handed bytes over elapsed, and the
// seconds the rest of total takes at that rate (−1 while nothing is read).
func loadRate(handed, total int64, elapsed time.Duration) (rate, eta float64) {
	if handed <= 0 || elapsed <= 0 {
		return 0, -1
	}
	rate = float64(handed) / elapsed.Seconds()
	return rate, float64(max(total-handed, 0)) / rate
}

// maxContext is the checkpoint's context length, or the contract's longest response plus as
// much prompt when the config does not say.
func maxContext(c weights.Config) int {
	if c.MaxSequenceLength > 0 {
		return c.MaxSequenceLength
	}
	return 2 * contract.MaxGenLength
}

// defaultParams are the configuration's generation and cache settings as engine parameters.
func defaultParams(cfg *contract.Config, family weights.Family) engine.Params {
	g := cfg.Generation
	p := engine.Params{Steps: g.Steps, GenLength: g.GenLength, BlockLength: g.BlockLength,
		Temperature: float64(g.TemperatureMilli) / 1000, Threshold: float64(g.ParallelThresholdPermille) / 1000}
	if family == weights.FamilyDream {
		p.BlockLength, p.Eps = 0, 1e-3
		p.Algorithm = map[string]sampler.Algorithm{
			contract.RemaskingLowConfidence: sampler.MaskGITPlus, contract.RemaskingRandom: sampler.Origin,
			contract.RemaskingMargin: sampler.TopKMargin, contract.RemaskingEntropy: sampler.Entropy,
		}[g.Remasking]
	} else {
		p.Remasking = map[string]sampler.Remasking{
			contract.RemaskingLowConfidence: sampler.LowConfidence, contract.RemaskingRandom: sampler.Random,
			contract.RemaskingMargin: sampler.LowMargin, contract.RemaskingEntropy: sampler.HighEntropy,
		}[g.Remasking]
	}
	p.Cache = server.CacheSettingsOf(cfg.Cache)
	return p
}

// checkpointBytes is the size of the checkpoint's safetensors files.
func checkpointBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(d.Name()) == ".safetensors" {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
