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
	"iter"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/tasks"
	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// evalFlags are the eval subcommand's flags.
type evalFlags struct {
	model, suite, taskNames string
	items, batch, threads   int
	dev                     backendFlags
	seed                    uint64
	stepsPerToken           int
	blockLength             int
	remasking               string
	asJSON                  bool
	cache, agreement        bool
	cacheSet                featcache.Settings
}

// evalTask is one task's result.
type evalTask struct {
	Task     string  `json:"task"`
	Items    int     `json:"items"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	Seconds  float64 `json:"seconds"`
	// With --agreement, the cached run is also compared with the uncached one, as the
	// runtime's shadow checks compare them (evalagree.go).
	Uncached *uncachedComparison `json:"uncached,omitempty"`
}

// evalResult is what eval --json prints.
type evalResult struct {
	Model   string     `json:"model"`
	Split   string     `json:"split"`
	Seed    uint64     `json:"seed"`
	Cache   *cacheJSON `json:"cache,omitempty"`
	Tasks   []evalTask `json:"tasks"`
	Seconds float64    `json:"seconds"`
}

// runEval scores a checkpoint on held-out items of the task suite.
func runEval(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f evalFlags
	fs.StringVar(&f.model, "model", "", "Checkpoint folder with its tokenizer (required).")
	fs.StringVar(&f.suite, "suite", "tasks", `Suite to run; "tasks" is the synthetic task suite (runtime/tasks).`)
	fs.StringVar(&f.taskNames, "tasks", "all", "Comma-separated tasks of the suite, or all.")
	fs.IntVar(&f.items, "items", 50, "Held-out items per task.")
	fs.Uint64Var(&f.seed, "seed", 1, "Seed of the held-out items.")
	fs.IntVar(&f.batch, "batch", 8, "Requests denoised together.")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads; 0 means every core.")
	f.dev.register(fs)
	fs.IntVar(&f.stepsPerToken, "steps-per-token", 1, "Denoising steps per response token.")
	fs.IntVar(&f.blockLength, "block-length", 0, "LLaDA block length; 0 decodes each task's response as one block.")
	fs.StringVar(&f.remasking, "remasking", "low_confidence", "LLaDA remasking: low_confidence, random, topk_margin or entropy.")
	fs.BoolVar(&f.asJSON, "json", false, "Print one JSON object instead of a table.")
	fs.BoolVar(&f.cache, "cache", false, "Use dLLM-Cache with the --cache-* settings.")
	fs.IntVar(&f.cacheSet.PromptInterval, "cache-prompt-interval", 100, "dLLM-Cache K_p.")
	fs.IntVar(&f.cacheSet.ResponseInterval, "cache-response-interval", 7, "dLLM-Cache K_r.")
	fs.Float64Var(&f.cacheSet.TransferRatio, "cache-transfer-ratio", 0.25, "dLLM-Cache rho.")
	fs.BoolVar(&f.agreement, "agreement", false, "With --cache: also run each item without the cache and report the shadow agreement signals (not timed).")
	fs.Usage = func() {
		say(fs.Output(), "Usage: dllm-runtime eval --model DIR [--suite tasks] [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	problem := ""
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected arguments %q", fs.Args())
	case f.model == "":
		problem = errModelRequired
	case f.suite != "tasks":
		problem = fmt.Sprintf("--suite %q: the only suite is tasks", f.suite)
	case f.items < 1 || f.batch < 1 || f.stepsPerToken < 1 || f.blockLength < 0 || f.threads < 0:
		problem = "--items, --batch and --steps-per-token must be positive, --block-length and --threads not negative"
	case f.agreement && !f.cache:
		problem = "--agreement compares the cached path with the exact one: it needs --cache"
	}
	if f.cache && problem == "" {
		if err := f.cacheSet.Validate(); err != nil {
			problem = err.Error()
		}
	}
	if problem != "" {
		say(stderr, "dllm-runtime eval: %s\n", problem)
		fs.Usage()
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := eval(ctx, &f)
	if err != nil {
		say(stderr, "dllm-runtime eval: %v\n", err)
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitError
	}
	if f.asJSON {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return exitError
		}
		return exitOK
	}
	printEvalTable(stdout, res, f.agreement)
	return exitOK
}

// printEvalTable prints eval's result as a table, with the agreement columns when measured.
func printEvalTable(stdout io.Writer, res *evalResult, agreement bool) {
	if agreement {
		say(stdout, "%-10s %6s %8s %9s %8s %9s %6s %6s %6s\n", "task", "items", "correct", "accuracy", "seconds",
			"uncached", "top1", "tokens", "same")
		for _, t := range res.Tasks {
			a := t.Uncached
			say(stdout, "%-10s %6d %8d %8.1f%% %8.1f %8.1f%% %5.1f%% %5.1f%% %5.1f%%\n", t.Task, t.Items, t.Correct, 100*t.Accuracy,
				t.Seconds, 100*a.UncachedAccuracy, 100*a.Top1, 100*a.Tokens, 100*a.SameAnswer)
		}
		return
	}
	say(stdout, "%-10s %6s %8s %9s %8s\n", "task", "items", "correct", "accuracy", "seconds")
	for _, t := range res.Tasks {
		say(stdout, "%-10s %6d %8d %8.1f%% %8.1f\n", t.Task, t.Items, t.Correct, 100*t.Accuracy, t.Seconds)
	}
}

// eval loads the checkpoint and scores it on every chosen task.
func eval(ctx context.Context, f *evalFlags) (*evalResult, error) {
	chosen, err := tasks.Lookup(f.taskNames)
	if err != nil {
		return nil, fmt.Errorf("--tasks: %w: %w", err, errUsage)
	}
	remask, err := sampler.ParseRemasking(f.remasking)
	if err != nil {
		return nil, fmt.Errorf("--remasking: %w: %w", err, errUsage)
	}
	ck, err := weights.Open(f.model)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ck.Close() }()
	tok, err := tokenizer.Load(f.model)
	if err != nil {
		return nil, err
	}
	be, closeBackend, err := openBackend(f.dev.backend, f.dev.precision, f.threads)
	if err != nil {
		return nil, err
	}
	defer closeBackend()
	m, err := families.Load(be, ck)
	if err != nil {
		return nil, err
	}
	eot := endOfTurnID(tok, ck.Config.Family)
	eng, err := engine.New(m, ck.Config, engine.Options{MaxBatchSize: f.batch, MaxQueue: f.items, Workers: 1, EoTID: eot})
	if err != nil {
		return nil, err
	}
	defer func() { _ = eng.Close(context.Background()) }()
	res := &evalResult{Model: f.model, Split: tasks.HeldOut.String(), Seed: f.seed}
	if f.cache {
		res.Cache = &cacheJSON{PromptInterval: f.cacheSet.PromptInterval, ResponseInterval: f.cacheSet.ResponseInterval,
			TransferRatio: f.cacheSet.TransferRatio}
	}
	start := time.Now()
	for _, task := range chosen {
		p := engine.Params{Steps: task.GenLength * f.stepsPerToken, GenLength: task.GenLength, BlockLength: f.blockLength,
			Remasking: remask}
		if p.BlockLength == 0 || task.GenLength%p.BlockLength != 0 {
			p.BlockLength = task.GenLength
		}
		if ck.Config.Family == weights.FamilyDream {
			p.BlockLength, p.Algorithm, p.Eps = 0, sampler.Entropy, 1e-3
		}
		if f.cache {
			set := f.cacheSet
			p.Cache = &set
		}
		r, err := scoreTask(ctx, eng, tok, task, p, f.items, f.seed, ck.Config.EOSTokenID, eot, f.agreement)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", task.Name, err)
		}
		res.Tasks = append(res.Tasks, *r)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// scoreTask runs n held-out items of task through the engine at once (it batches them) and
// scores the responses, each decoded up to its first eos or eot. With agree, the
// cached run is traced and then, untimed, compared with the uncached one.
func scoreTask(ctx context.Context, eng *engine.Engine, tok *tokenizer.Tokenizer, task tasks.Task, p engine.Params, n int,
	seed uint64, eos, eot int, agree bool) (*evalTask, error) {
	items := task.Items(tasks.HeldOut, n, seed)
	prompts := make([][]int, len(items))
	for i, it := range items {
		ids, err := tok.Encode(it.Prompt)
		if err != nil {
			return nil, err
		}
		prompts[i] = ids
	}
	start := time.Now()
	results, err := generateAll(ctx, eng, prompts, p, agree)
	if err != nil {
		return nil, err
	}
	r := &evalTask{Task: task.Name, Items: len(items), Seconds: time.Since(start).Seconds()}
	outs := make([]string, len(items))
	for i, it := range items {
		if outs[i], err = answerText(tok, results[i].Generated, eos, eot); err != nil {
			return nil, err
		}
		if tasks.Correct(it, outs[i]) {
			r.Correct++
		}
	}
	r.Accuracy = float64(r.Correct) / float64(max(r.Items, 1))
	if agree {
		if r.Uncached, err = compareUncached(ctx, eng, tok, items, prompts, p, results, outs, eos, eot); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// generateAll submits every prompt at once, so the engine batches them, and waits for all.
func generateAll(ctx context.Context, eng *engine.Engine, prompts [][]int, p engine.Params, trace bool) ([]*engine.Result, error) {
	results := make([]*engine.Result, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, ids := range prompts {
		wg.Go(func() { results[i], errs[i] = eng.Generate(ctx, engine.Request{Prompt: ids, Params: p, Trace: trace}) })
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// taskRecord is one line of the tasks subcommand's output: an item with its token ids, the
// answer padded with end-of-sequence tokens to the task's response length, as LLaDA's
// supervised fine-tuning pads.
type taskRecord struct {
	tasks.Item
	Split     string `json:"split"`
	GenLength int    `json:"gen_length"`
	PromptIDs []int  `json:"prompt_ids"`
	AnswerIDs []int  `json:"answer_ids"`
}

// runTasks writes items of the task suite as JSON lines, tokenized with a checkpoint's
// tokenizer: the training data of hack/train-tiny and the held-out items eval scores.
func runTasks(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dir, names, split string
	var items int
	var seed uint64
	fs.StringVar(&dir, "model", "", "Folder with tokenizer.json and config.json (for the end-of-sequence id) (required).")
	fs.StringVar(&names, "tasks", "all", "Comma-separated tasks, or all.")
	fs.StringVar(&split, "split", "train", "train or heldout.")
	fs.IntVar(&items, "items", 1000, "Items per task.")
	fs.Uint64Var(&seed, "seed", 1, "Seed of the items.")
	stream := fs.Bool("stream", false, "Write items without end, round robin over the tasks, until the reader closes the pipe: training that never sees an item twice (--items is ignored).")
	fs.Usage = func() {
		say(fs.Output(), "Usage: dllm-runtime tasks --model DIR [--split train|heldout] [--stream] [flags] > items.jsonl\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	s, ok := map[string]tasks.Split{"train": tasks.Train, "heldout": tasks.HeldOut}[split]
	chosen, lookupErr := tasks.Lookup(names)
	problem := ""
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected arguments %q", fs.Args())
	case dir == "":
		problem = errModelRequired
	case !ok:
		problem = fmt.Sprintf("--split %q is not train or heldout", split)
	case items < 1:
		problem = "--items must be positive"
	case lookupErr != nil:
		problem = "--tasks: " + lookupErr.Error()
	}
	if problem != "" {
		say(stderr, "dllm-runtime tasks: %s\n", problem)
		return exitUsage
	}
	cfg, err := weights.LoadConfig(filepath.Join(dir, weights.ConfigFile))
	if err != nil {
		say(stderr, "dllm-runtime tasks: %v\n", err)
		return exitError
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		say(stderr, "dllm-runtime tasks: %v\n", err)
		return exitError
	}
	enc := json.NewEncoder(stdout)
	write := func(task tasks.Task, it tasks.Item) error {
		r := taskRecord{Item: it, Split: s.String(), GenLength: task.GenLength}
		var err error
		if r.PromptIDs, err = tok.Encode(it.Prompt); err == nil {
			r.AnswerIDs, err = tok.Encode(it.Answer)
		}
		if err == nil && len(r.AnswerIDs) >= task.GenLength {
			err = fmt.Errorf("task %s: answer %q takes %d tokens, more than the response length %d leaves", task.Name, it.Answer, len(r.AnswerIDs), task.GenLength)
		}
		if err != nil {
			return err
		}
		for len(r.AnswerIDs) < task.GenLength {
			r.AnswerIDs = append(r.AnswerIDs, cfg.EOSTokenID)
		}
		return enc.Encode(r)
	}
	if *stream {
		return streamTasks(chosen, s, seed, write, stderr)
	}
	for _, task := range chosen {
		for _, it := range task.Items(s, items, seed) {
			if err := write(task, it); err != nil {
				say(stderr, "dllm-runtime tasks: %v\n", err)
				return exitError
			}
		}
	}
	return exitOK
}

// streamTasks writes one item of each task in turn, without end. A write to a closed pipe ends
// it quietly: that is how the reader says it has had enough.
func streamTasks(chosen []tasks.Task, s tasks.Split, seed uint64, write func(tasks.Task, tasks.Item) error, stderr io.Writer) int {
	next := make([]func() (tasks.Item, bool), len(chosen))
	for i, task := range chosen {
		var stop func()
		next[i], stop = iter.Pull(task.Stream(s, seed))
		defer stop()
	}
	for {
		for i, task := range chosen {
			it, _ := next[i]() // a task's stream never ends
			if err := write(task, it); err != nil {
				if errors.Is(err, syscall.EPIPE) {
					return exitOK
				}
				say(stderr, "dllm-runtime tasks: %v\n", err)
				return exitError
			}
		}
	}
}
