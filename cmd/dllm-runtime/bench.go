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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"time"

	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/weights"
)

// benchFlags are the bench subcommand's flags.
type benchFlags struct {
	model                       string
	promptLen, genLength        int
	blockLength, steps, repeats int
	threads                     int
	dev                         backendFlags
	seed                        uint64
	asJSON                      bool
	set                         featcache.Settings
	cpuProfile                  string
}

// benchResult is what bench --json prints.
type benchResult struct {
	Family          string    `json:"family"`
	Backend         string    `json:"backend"`
	PromptLen       int       `json:"prompt_len"`
	GenLength       int       `json:"gen_length"`
	BlockLength     int       `json:"block_length"`
	Steps           int       `json:"steps"`
	Cache           cacheJSON `json:"cache"`
	Repeats         int       `json:"repeats"`
	ExactMillis     []float64 `json:"exact_ms"`
	CachedMillis    []float64 `json:"cached_ms"`
	ExactFLOPs      int64     `json:"flops_exact"`
	CachedFLOPs     int64     `json:"flops_cached"`
	ReferenceFLOPs  int64     `json:"flops_reference"`
	FLOPsReduction  float64   `json:"flops_reduction"`
	ReferenceReduct float64   `json:"flops_reduction_reference"`
	SpeedupMin      float64   `json:"speedup_min"`
	SpeedupMedian   float64   `json:"speedup_median"`
	SpeedupMax      float64   `json:"speedup_max"`
	SpeedupPerFLOPs float64   `json:"speedup_per_flops"`
	TokenAgreement  float64   `json:"token_agreement"`
}

// runBench runs the bench subcommand: the exact and the cached path back to back, repeats
// times, on the same checkpoint and prompt.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f benchFlags
	fs.StringVar(&f.model, "model", "", "Checkpoint folder (config.json and safetensors) (required).")
	fs.IntVar(&f.promptLen, "prompt-len", 512, "Prompt length in tokens (seeded random ids).")
	fs.IntVar(&f.genLength, "gen-length", 256, "Number of response positions.")
	fs.IntVar(&f.blockLength, "block-length", 32, "LLaDA block length (Dream ignores it).")
	fs.IntVar(&f.steps, "steps", 256, "Denoising steps.")
	fs.IntVar(&f.repeats, "repeats", 3, "Number of exact/cached pairs to time.")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads; 0 means every core.")
	f.dev.register(fs)
	fs.Uint64Var(&f.seed, "seed", 1, "Seed of the prompt's ids.")
	fs.BoolVar(&f.asJSON, "json", false, "Print one JSON object instead of a table.")
	fs.IntVar(&f.set.PromptInterval, "cache-prompt-interval", 50, "dLLM-Cache K_p.")
	fs.IntVar(&f.set.ResponseInterval, "cache-response-interval", 7, "dLLM-Cache K_r.")
	fs.Float64Var(&f.set.TransferRatio, "cache-transfer-ratio", 0.25, "dLLM-Cache rho.")
	fs.BoolVar(&f.set.RefreshAtBlocks, "cache-refresh-at-blocks", false, "dLLM-Cache: also refresh at every block start.")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "Write a CPU profile (pprof) of the last cached run to this file.")
	fs.Usage = func() {
		say(fs.Output(), "Usage: dllm-runtime bench --model DIR [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var problem string
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected arguments %q", fs.Args())
	case f.model == "":
		problem = errModelRequired
	case f.promptLen < 1 || f.genLength < 1 || f.steps < 1 || f.repeats < 1:
		problem = "--prompt-len, --gen-length, --steps and --repeats must be positive"
	default:
		if err := f.set.Validate(); err != nil {
			problem = err.Error()
		}
	}
	if problem != "" {
		say(stderr, "dllm-runtime bench: %s\n", problem)
		fs.Usage()
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench(ctx, &f, stderr)
	if err != nil {
		say(stderr, "dllm-runtime bench: %v\n", err)
		if errors.Is(err, sampler.ErrInvalidInput) || errors.Is(err, model.ErrInput) {
			return exitUsage
		}
		return exitError
	}
	if f.asJSON {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			say(stderr, "dllm-runtime bench: %v\n", err)
			return exitError
		}
		return exitOK
	}
	say(stdout, "%s on %s: prompt %d, gen %d, block %d, steps %d, K_p %d, K_r %d, rho %g, %d repeats after an untimed warm-up pass of each path\n",
		res.Family, res.Backend, res.PromptLen, res.GenLength, res.BlockLength, res.Steps,
		res.Cache.PromptInterval, res.Cache.ResponseInterval, res.Cache.TransferRatio, res.Repeats)
	say(stdout, "FLOPs: exact %.4g, cached %.4g: reduction %.2fx (%.2fx against the reference's full logits)\n",
		float64(res.ExactFLOPs), float64(res.CachedFLOPs), res.FLOPsReduction, res.ReferenceReduct)
	say(stdout, "time: exact %v ms, cached %v ms\n", res.ExactMillis, res.CachedMillis)
	say(stdout, "speedup: min %.2fx, median %.2fx, max %.2fx; speedup / FLOPs reduction %.2f; token agreement %.3f\n",
		res.SpeedupMin, res.SpeedupMedian, res.SpeedupMax, res.SpeedupPerFLOPs, res.TokenAgreement)
	return exitOK
}

// bench loads the model and times the two paths.
func bench(ctx context.Context, f *benchFlags, stderr io.Writer) (*benchResult, error) {
	ck, err := weights.Open(f.model)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ck.Close() }()
	be, closeBackend, err := openBackend(f.dev.backend, f.dev.precision, f.threads)
	if err != nil {
		return nil, err
	}
	defer closeBackend()
	m, err := families.Load(be, ck)
	if err != nil {
		return nil, err
	}
	cfg := ck.Config
	r := rand.New(rand.NewPCG(f.seed, 0))
	prompt := make([]int, f.promptLen)
	for i := range prompt {
		prompt[i] = r.IntN(min(cfg.Vocab, 256)) // byte tokens: present in every vocabulary
	}
	g := &generateFlags{genLength: f.genLength, blockLength: f.blockLength, steps: f.steps,
		remasking: "low_confidence", alg: "entropy", eps: 1e-3}
	if cfg.Family == weights.FamilyDream {
		g.blockLength = 0
	}
	res := &benchResult{Family: string(cfg.Family), Backend: be.Name(), PromptLen: f.promptLen, GenLength: f.genLength,
		BlockLength: f.blockLength, Steps: f.steps, Repeats: f.repeats,
		Cache: cacheJSON{PromptInterval: f.set.PromptInterval, ResponseInterval: f.set.ResponseInterval,
			TransferRatio: f.set.TransferRatio, RefreshAtBlocks: f.set.RefreshAtBlocks}}
	seqLen := f.promptLen + f.genLength
	var speedups []float64
	var prof *os.File
	if f.cpuProfile != "" {
		if prof, err = os.Create(f.cpuProfile); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer func() { _ = prof.Close() }()
	}
	if err := warmUp(ctx, m, f, cfg.MaskTokenID, prompt); err != nil {
		return nil, err
	}
	for rep := range f.repeats {
		start := time.Now()
		exact, err := sample(ctx, g, m, cfg, -1, prompt, nil)
		if err != nil {
			return nil, err
		}
		te := time.Since(start)
		s, err := m.NewSession(1, seqLen, f.promptLen, nil, f.set)
		if err != nil {
			return nil, err
		}
		if prof != nil {
			// Only the cached runs are profiled, and the file keeps the last one (each
			// profile is a complete file: several would not parse as one).
			if err := truncate(prof); err != nil {
				return nil, fmt.Errorf("cpu profile: %w", err)
			}
			if err := pprof.StartCPUProfile(prof); err != nil {
				return nil, fmt.Errorf("cpu profile: %w", err)
			}
		}
		start = time.Now()
		cached, err := sample(ctx, g, s, cfg, -1, prompt, nil)
		tc := time.Since(start)
		if prof != nil {
			pprof.StopCPUProfile()
		}
		st := s.Stats()
		s.Close()
		if err != nil {
			return nil, err
		}
		res.ExactMillis = append(res.ExactMillis, float64(te.Microseconds())/1e3)
		res.CachedMillis = append(res.CachedMillis, float64(tc.Microseconds())/1e3)
		speedups = append(speedups, te.Seconds()/tc.Seconds())
		res.ExactFLOPs, res.CachedFLOPs, res.ReferenceFLOPs = st.ExactFLOPs, st.FLOPs, st.ReferenceFLOPs
		res.TokenAgreement = agreement(exact.Generated[0], cached.Generated[0])
		say(stderr, "repeat %d: exact %.0f ms, cached %.0f ms (%.2fx)\n", rep+1,
			res.ExactMillis[rep], res.CachedMillis[rep], speedups[rep])
	}
	res.FLOPsReduction = float64(res.ExactFLOPs) / float64(res.CachedFLOPs)
	res.ReferenceReduct = float64(res.ReferenceFLOPs) / float64(res.CachedFLOPs)
	slices.Sort(speedups)
	res.SpeedupMin, res.SpeedupMax = speedups[0], speedups[len(speedups)-1]
	res.SpeedupMedian = median(speedups)
	res.SpeedupPerFLOPs = res.SpeedupMedian / res.FLOPsReduction
	return res, nil
}

// warmUp runs one untimed pass of each path, so that the timed runs measure a warm server:
// the first pass of a shape faults in the memory of its buffers (hundreds of megabytes of
// cached features for a long prompt, about a second), which a server pays once and every
// later request of that shape reuses.
func warmUp(ctx context.Context, m *model.Model, f *benchFlags, mask int, prompt []int) error {
	canvas := append(slices.Clone(prompt), make([]int, f.genLength)...)
	for i := f.promptLen; i < len(canvas); i++ {
		canvas[i] = mask
	}
	from, to := f.promptLen, f.promptLen+min(f.genLength, max(f.blockLength, 1))
	if _, err := m.Logits(ctx, [][]int{canvas}, nil, from, to); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	s, err := m.NewSession(1, len(canvas), f.promptLen, nil, f.set)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	defer s.Close()
	if _, err := s.Logits(ctx, [][]int{canvas}, nil, from, to); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}

// median of sorted values.
func median(x []float64) float64 {
	n := len(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

// agreement is the fraction of positions of a where two generations agree.
func agreement(a, b []int) float64 {
	return float64(agreedTokens(a, b)) / float64(len(a))
}

// agreedTokens counts the positions where a and b hold the same token.
func agreedTokens(a, b []int) int {
	same := 0
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			same++
		}
	}
	return same
}

// truncate empties f and rewinds it.
func truncate(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}
