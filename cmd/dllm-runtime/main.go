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

// Command dllm-runtime is the diffusion-LLM runtime's command line. Its subcommands only parse
// flags and call into runtime/ packages:
//
//	dllm-runtime testmodel --family llada|dream --out DIR [--seed N] [size flags]
//
// writes a tiny checkpoint with seeded random weights in the Hugging Face layout (see package
// runtime/testmodel), and
//
//	dllm-runtime generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [sampler flags] [--json]
//
// loads a checkpoint on the CPU backend and runs the family's sampler (runtime/sampler),
// printing the response text (or ids) and per-step timings, or one JSON object with
// generated_ids, text, steps, forwards, flops and the timings;
//
//	dllm-runtime serve --config FILE
//
// serves the OpenAI-compatible API (runtime/server) for the model and settings a runtime
// configuration (runtime/contract) names, until SIGTERM, then drains in-flight requests;
//
//	dllm-runtime pull SOURCE --dir DIR
//
// downloads an hf:// source into DIR (runtime/hub), or checks a file://, pvc:// or oci://
// source in place, and prints the checkpoint folder;
//
//	dllm-runtime eval --model DIR [--tasks LIST] [--items N] [sampler and cache flags] [--json]
//
// scores a checkpoint on held-out items of the synthetic task suite (runtime/tasks), and
//
//	dllm-runtime tasks --model DIR [--split train|heldout] [--items N | --stream]
//
// writes items of the suite, tokenized, as JSON lines (the training data; --stream writes fresh
// ones until the reader closes the pipe).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/testmodel"
)

// errModelRequired is the usage problem of a command run without its checkpoint.
const errModelRequired = "--model is required"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line is wrong
)

const usage = `Usage: dllm-runtime <command> [flags]

Commands:
  bench       time the exact and the dLLM-Cache path back to back on a checkpoint
  eval        score a checkpoint on held-out items of the task suite
  generate    denoise a response to a prompt with a checkpoint, on the CPU
  loadgen     drive a server with concurrent clients and print throughput and latency
  pull        fetch a model from the Hugging Face Hub (verified, resumable), or check a folder
  serve       serve the OpenAI-compatible API for the model a runtime config names
  tasks       write items of the task suite as JSON lines (training data)
  testmodel   write a tiny checkpoint with seeded random weights, in the Hugging Face layout

Run "dllm-runtime <command> -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		say(stderr, "%s", usage)
		return exitUsage
	}
	switch args[0] {
	case "testmodel":
		return runTestModel(args[1:], stdout, stderr)
	case "generate":
		return runGenerate(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case contract.ServeCommand:
		return runServe(args[1:], stdout, stderr)
	case "loadgen":
		return runLoadgen(args[1:], stdout, stderr)
	case contract.PullCommand:
		return runPull(args[1:], stdout, stderr)
	case "eval":
		return runEval(args[1:], stdout, stderr)
	case "tasks":
		return runTasks(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		say(stdout, "%s", usage)
		return exitOK
	default:
		say(stderr, "dllm-runtime: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

// runTestModel runs the testmodel subcommand.
func runTestModel(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testmodel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o   testmodel.Options
		out string
	)
	fs.StringVar(&o.Family, "family", "", `Model family: "llada" or "dream" (required).`)
	fs.StringVar(&out, "out", "", "Folder to write the checkpoint to; created when missing (required).")
	fs.Int64Var(&o.Seed, "seed", 0, "Seed of the random weights; the same flags write byte-identical files.")
	fs.IntVar(&o.DModel, "d-model", testmodel.DefaultDModel, "Model width.")
	fs.IntVar(&o.Layers, "layers", testmodel.DefaultLayers, "Number of transformer blocks.")
	fs.IntVar(&o.Heads, "heads", testmodel.DefaultHeads, "Number of query heads; divides d-model with an even quotient.")
	fs.IntVar(&o.KVHeads, "kv-heads", 0,
		"Number of key/value heads; divides heads. 0 means heads for llada, half the heads (when even) for dream.")
	fs.IntVar(&o.MLP, "mlp", testmodel.DefaultMLP, "MLP width.")
	fs.IntVar(&o.Vocab, "vocab", testmodel.DefaultVocab,
		"Embedding rows (vocab_size); at least the tokenizer's size.")
	fs.IntVar(&o.Shards, "shards", testmodel.DefaultShards,
		"Number of safetensors files; more than 1 writes shards and model.safetensors.index.json.")
	fs.Usage = func() {
		say(fs.Output(), "Usage: dllm-runtime testmodel --family llada|dream --out DIR [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var problem string
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected arguments %q", fs.Args())
	case o.Family == "":
		problem = "--family is required"
	case out == "":
		problem = "--out is required"
	}
	if problem != "" {
		say(stderr, "dllm-runtime testmodel: %s\n", problem)
		fs.Usage()
		return exitUsage
	}
	if err := testmodel.Write(out, o); err != nil {
		say(stderr, "dllm-runtime testmodel: %v\n", err)
		return exitError
	}
	say(stdout, "Wrote a %s test model with seed %d to %s\n", o.Family, o.Seed, out)
	return exitOK
}

// parseFlags parses args into fs. When it returns ok false the command is over, with code: help
// was asked for (exitOK), or the flags are wrong and fs has printed the error and the usage
// (exitUsage).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	default:
		return exitUsage, false
	}
}

// say writes a message to w. A failed write to the terminal has nowhere better to be
// reported, so its error is dropped.
func say(w io.Writer, format string, a ...any) {
	_, _ = fmt.Fprintf(w, format, a...)
}
