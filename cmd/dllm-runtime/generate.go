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
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// generateFlags are the generate subcommand's flags.
type generateFlags struct {
	model, prompt, promptIDs      string
	chat, asJSON                  bool
	genLength, blockLength, steps int
	temperature, cfgScale         float64
	remasking, alg                string
	topP, algTemp, eps, threshold float64
	topK, cfgInterval             int
	seed                          uint64
	threads                       int
	dev                           backendFlags
	cache                         bool
	cacheSet                      featcache.Settings
}

func (g *generateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.model, "model", "", "Checkpoint folder: config.json and safetensors, plus tokenizer files for --prompt (required).")
	fs.StringVar(&g.prompt, "prompt", "", "Prompt text, tokenized with the checkpoint's tokenizer.json.")
	fs.StringVar(&g.promptIDs, "prompt-ids", "", "Prompt token ids, comma-separated (e.g. 1,2,3); needs no tokenizer.")
	fs.BoolVar(&g.chat, "chat", false, "Wrap --prompt as one user message in the checkpoint's chat template.")
	fs.BoolVar(&g.asJSON, "json", false, "Print one JSON object instead of text.")
	fs.IntVar(&g.genLength, "gen-length", 128, "Number of response positions (Dream: max_new_tokens).")
	fs.IntVar(&g.blockLength, "block-length", 0, "LLaDA semi-autoregressive block length; 0 means gen-length (one block).")
	fs.IntVar(&g.steps, "steps", 0, "Denoising steps; 0 means gen-length.")
	fs.Float64Var(&g.temperature, "temperature", 0, "Sampling temperature; 0 is greedy.")
	fs.StringVar(&g.remasking, "remasking", "low_confidence", "LLaDA remasking: low_confidence, random, topk_margin or entropy.")
	fs.Float64Var(&g.cfgScale, "cfg-scale", 0, "LLaDA classifier-free guidance scale; 0 is off.")
	fs.IntVar(&g.cfgInterval, "cfg-interval", 1,
		"LLaDA CFG cache: run the unconditional pass at steps 1-5 and every N steps, reusing cond − uncond between.")
	fs.StringVar(&g.alg, "alg", "entropy", "Dream decoding order: origin, maskgit_plus, topk_margin or entropy.")
	fs.Float64Var(&g.topP, "top-p", 0, "Dream nucleus filter; 0 is off.")
	fs.IntVar(&g.topK, "top-k", 0, "Dream top-k filter; 0 is off.")
	fs.Float64Var(&g.algTemp, "alg-temp", 0, "Dream: sample positions from softmax(confidence/alg-temp); 0 takes the top ones.")
	fs.Float64Var(&g.eps, "eps", 1e-3, "Dream: final timestep of linspace(1, eps, steps+1).")
	fs.Float64Var(&g.threshold, "threshold", 0, "Confidence-aware parallel decoding threshold in (0, 1]; 0 is off.")
	fs.Uint64Var(&g.seed, "seed", 0, "Seed of the sampler's random numbers.")
	fs.IntVar(&g.threads, "threads", 0, "CPU threads; 0 means every core.")
	g.dev.register(fs)
	fs.BoolVar(&g.cache, "cache", false, "Use dLLM-Cache (the --cache-* flags); without it every step runs the exact forward pass.")
	fs.IntVar(&g.cacheSet.PromptInterval, "cache-prompt-interval", 100, "dLLM-Cache K_p: recompute the prompt's features every K_p forward passes.")
	fs.IntVar(&g.cacheSet.ResponseInterval, "cache-response-interval", 7, "dLLM-Cache K_r: recompute the response's features every K_r forward passes.")
	fs.Float64Var(&g.cacheSet.TransferRatio, "cache-transfer-ratio", 0.25, "dLLM-Cache rho: fraction of response tokens V-verify recomputes between refreshes.")
	fs.BoolVar(&g.cacheSet.RefreshAtBlocks, "cache-refresh-at-blocks", false, "dLLM-Cache: also refresh everything at the start of every LLaDA block.")
	fs.BoolVar(&g.cacheSet.PartialV, "cache-partial-v", false, "dLLM-Cache: overwrite the cached V of the selected tokens only (LLaDA-V's variant).")
}

// check reports the first problem of a flag combination, or "".
func (g *generateFlags) check(fs *flag.FlagSet) string {
	switch {
	case fs.NArg() > 0:
		return fmt.Sprintf("unexpected arguments %q", fs.Args())
	case g.model == "":
		return errModelRequired
	case (g.prompt == "") == (g.promptIDs == ""):
		return "give exactly one of --prompt and --prompt-ids"
	case g.chat && g.prompt == "":
		return "--chat needs --prompt"
	case g.threads < 0:
		return fmt.Sprintf("--threads %d must not be negative", g.threads)
	case g.cfgInterval < 0:
		return fmt.Sprintf("--cfg-interval %d must not be negative", g.cfgInterval)
	}
	if g.cache {
		if err := g.cacheSet.Validate(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// generateResult is what --json prints.
type generateResult struct {
	Family       string     `json:"family"`
	PromptIDs    []int      `json:"prompt_ids"`
	GeneratedIDs []int      `json:"generated_ids"`
	Text         string     `json:"text"`
	Steps        int        `json:"steps"`
	Forwards     int        `json:"forwards"`
	FLOPs        int64      `json:"flops"`
	ExactFLOPs   int64      `json:"flops_exact"`
	RefFLOPs     int64      `json:"flops_reference"`
	SavedFLOPs   int64      `json:"flops_saved"`
	Cache        *cacheJSON `json:"cache,omitempty"`
	StepMillis   []float64  `json:"step_ms"`
	TotalMillis  float64    `json:"total_ms"`

	hasText bool // the checkpoint has a tokenizer, so Text is the answer (possibly empty)
}

// counted is a denoiser that counts its FLOPs: the exact path's model.Meter or a cached
// model.Session.
type counted interface {
	sampler.Denoiser
	Stats() model.Stats
}

// cacheJSON echoes the dLLM-Cache settings of a cached run.
type cacheJSON struct {
	PromptInterval   int     `json:"prompt_interval"`
	ResponseInterval int     `json:"response_interval"`
	TransferRatio    float64 `json:"transfer_ratio"`
	RefreshAtBlocks  bool    `json:"refresh_at_blocks"`
	PartialV         bool    `json:"partial_v"`
}

// runGenerate runs the generate subcommand.
func runGenerate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var g generateFlags
	g.register(fs)
	fs.Usage = func() {
		say(fs.Output(), "Usage: dllm-runtime generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if problem := g.check(fs); problem != "" {
		say(stderr, "dllm-runtime generate: %s\n", problem)
		fs.Usage()
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := generate(ctx, &g, stderr)
	if err != nil {
		say(stderr, "dllm-runtime generate: %v\n", err)
		if errors.Is(err, errUsage) || errors.Is(err, sampler.ErrInvalidInput) || errors.Is(err, model.ErrInput) {
			return exitUsage
		}
		return exitError
	}
	if g.asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			say(stderr, "dllm-runtime generate: %v\n", err)
			return exitError
		}
		return exitOK
	}
	if res.hasText {
		say(stdout, "%s\n", res.Text)
	} else {
		say(stdout, "%s\n", joinInts(res.GeneratedIDs))
	}
	say(stderr, "%d positions in %d steps (%d forwards, %.3g GFLOP) in %.1f ms\n",
		len(res.GeneratedIDs), res.Steps, res.Forwards, float64(res.FLOPs)/1e9, res.TotalMillis)
	return exitOK
}

// errUsage marks errors in the command line found after flag parsing.
var errUsage = errors.New("usage")

// generate loads the model and runs the sampler the flags describe.
func generate(ctx context.Context, g *generateFlags, stderr io.Writer) (*generateResult, error) {
	ck, err := weights.Open(g.model)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ck.Close() }()
	tok, err := loadTokenizer(g.model, g.prompt != "")
	if err != nil {
		return nil, err
	}
	prompt, err := promptIDs(g, tok)
	if err != nil {
		return nil, err
	}
	be, closeBackend, err := openBackend(g.dev.backend, g.dev.precision, g.threads)
	if err != nil {
		return nil, err
	}
	defer closeBackend()
	m, err := families.Load(be, ck)
	if err != nil {
		return nil, err
	}
	cfg := ck.Config
	eot := endOfTurnID(tok, cfg.Family)
	res := &generateResult{Family: string(cfg.Family), PromptIDs: prompt}
	last := time.Now()
	onStep := func(s sampler.Step) error {
		now := time.Now()
		ms := float64(now.Sub(last).Microseconds()) / 1e3
		last = now
		res.StepMillis = append(res.StepMillis, ms)
		if !g.asJSON {
			say(stderr, "step %d (block %d): %d committed, %.1f ms\n", s.Index, s.Block, len(s.Positions[0]), ms)
		}
		return nil
	}
	var (
		d       counted = &model.Meter{M: m}
		session *model.Session
	)
	seqLen := len(prompt) + g.genLength
	if g.cache {
		if session, err = m.NewSession(1, seqLen, len(prompt), nil, g.cacheSet); err != nil {
			return nil, err
		}
		defer session.Close()
		d = session
		set := g.cacheSet
		res.Cache = &cacheJSON{PromptInterval: set.PromptInterval, ResponseInterval: set.ResponseInterval,
			TransferRatio: set.TransferRatio, RefreshAtBlocks: set.RefreshAtBlocks, PartialV: set.PartialV}
	}
	start := time.Now()
	out, err := sample(ctx, g, d, cfg, eot, prompt, onStep)
	if err != nil {
		return nil, err
	}
	res.TotalMillis = float64(time.Since(start).Microseconds()) / 1e3
	res.GeneratedIDs = out.Generated[0]
	res.Steps, res.Forwards = out.Steps, out.Forwards
	st := d.Stats()
	res.FLOPs, res.ExactFLOPs, res.RefFLOPs = st.FLOPs, st.ExactFLOPs, st.ReferenceFLOPs
	res.SavedFLOPs = res.ExactFLOPs - res.FLOPs
	if tok != nil {
		res.hasText = true
		if res.Text, err = answerText(tok, res.GeneratedIDs, cfg.EOSTokenID, eot); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// sample runs the family's sampler.
func sample(ctx context.Context, g *generateFlags, m sampler.Denoiser, cfg weights.Config, eot int, prompt []int,
	onStep sampler.StepFunc) (*sampler.Result, error) {
	steps := g.steps
	if steps == 0 {
		steps = g.genLength
	}
	pad := cfg.PadTokenID
	if pad < 0 {
		pad = cfg.EOSTokenID
	}
	switch cfg.Family {
	case weights.FamilyLLaDA:
		remask, err := sampler.ParseRemasking(g.remasking)
		if err != nil {
			return nil, fmt.Errorf("--remasking: %w", errors.Join(err, errUsage))
		}
		block := g.blockLength
		if block == 0 {
			block = g.genLength
		}
		o := sampler.LLaDAOptions{Steps: steps, GenLength: g.genLength, BlockLength: block,
			Temperature: g.temperature, CFGScale: g.cfgScale, CFGInterval: g.cfgInterval, Remasking: remask, Threshold: g.threshold,
			MaskID: cfg.MaskTokenID, PadID: pad, EOSID: cfg.EOSTokenID, EoTID: eot, Seed: g.seed}
		return sampler.LLaDA(ctx, m, [][]int{prompt}, o, onStep)
	case weights.FamilyDream:
		if g.blockLength != 0 && g.blockLength != g.genLength {
			return nil, fmt.Errorf("--block-length: Dream decodes the whole response at once: %w", errUsage)
		}
		alg, err := sampler.ParseAlgorithm(g.alg)
		if err != nil {
			return nil, fmt.Errorf("--alg: %w", errors.Join(err, errUsage))
		}
		o := sampler.DreamOptions{Steps: steps, MaxNewTokens: g.genLength, Eps: g.eps,
			Temperature: g.temperature, TopP: g.topP, TopK: g.topK, Algorithm: alg, AlgTemp: g.algTemp,
			Threshold: g.threshold, MaskID: cfg.MaskTokenID, PadID: pad, Seed: g.seed}
		return sampler.Dream(ctx, m, [][]int{prompt}, o, onStep)
	}
	return nil, fmt.Errorf("model family %q has no sampler", cfg.Family)
}

// loadTokenizer loads the checkpoint's tokenizer; without tokenizer.json it returns nil unless
// the prompt is text.
func loadTokenizer(dir string, needed bool) (*tokenizer.Tokenizer, error) {
	_, err := os.Stat(filepath.Join(dir, tokenizer.TokenizerFile))
	if errors.Is(err, os.ErrNotExist) && !needed {
		return nil, nil
	}
	return tokenizer.Load(dir)
}

// promptIDs tokenizes --prompt (through the chat template with --chat) or parses --prompt-ids.
func promptIDs(g *generateFlags, tok *tokenizer.Tokenizer) ([]int, error) {
	if g.promptIDs != "" {
		return parseIDs(g.promptIDs)
	}
	text := g.prompt
	if g.chat {
		var err error
		text, err = tok.ApplyChatTemplate([]tokenizer.Message{{Role: "user", Content: g.prompt}}, true)
		if err != nil {
			return nil, err
		}
	}
	ids, err := tok.Encode(text)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("--prompt encodes to no tokens: %w", errUsage)
	}
	return ids, nil
}

// parseIDs parses a comma-separated list of token ids.
func parseIDs(s string) ([]int, error) {
	parts := strings.Split(s, ",")
	ids := make([]int, 0, len(parts))
	for i, p := range parts {
		id, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || id < 0 {
			return nil, fmt.Errorf("--prompt-ids: item %d %q is not a token id: %w", i+1, p, errUsage)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// answerText decodes the response up to its first EOS or end-of-turn token, as the reference
// chat loop cuts it, without special tokens. Ids the tokenizer does not have (rows of a padded
// embedding table) decode to nothing, as in the Hugging Face tokenizers library.
func answerText(tok *tokenizer.Tokenizer, ids []int, eos, eot int) (string, error) {
	for i, id := range ids {
		if id == eos || id == eot {
			ids = ids[:i]
			break
		}
	}
	return tok.DecodeKnown(ids)
}

func joinInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

// endOfTurnID is the id of the family's chat end-of-turn token in tok, or −1 when tok is nil or
// has none.
func endOfTurnID(tok *tokenizer.Tokenizer, family weights.Family) int {
	if tok != nil {
		if id, ok := tok.TokenID(families.EndOfTurn(family)); ok {
			return id
		}
	}
	return -1
}
