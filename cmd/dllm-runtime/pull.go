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
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/hub"
	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// pullFlags are the pull subcommand's flags.
type pullFlags struct {
	dir, endpoint, tokenFile string
	parallel                 int
	progress                 time.Duration
}

// runPull fetches an hf:// source into --dir, or checks a file://, pvc:// or oci:// source in
// place.
func runPull(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(contract.PullCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f pullFlags
	fs.StringVar(&f.dir, strings.TrimPrefix(contract.DirFlag, "--"), "",
		"Folder to pull an hf:// source into, or where a pvc:// or oci:// source is mounted.")
	fs.StringVar(&f.endpoint, "endpoint", os.Getenv(contract.HubEndpointEnv),
		"Hugging Face Hub address (default $"+contract.HubEndpointEnv+", else "+hub.DefaultEndpoint+").")
	fs.StringVar(&f.tokenFile, strings.TrimPrefix(contract.TokenFileFlag, "--"), "",
		"File holding the Hub token (default: $"+contract.HubTokenEnv+").")
	fs.IntVar(&f.parallel, "parallel", 4, "Files downloaded at once.")
	fs.DurationVar(&f.progress, "progress-every", 10*time.Second, "How often to log download progress.")
	fs.Usage = func() {
		say(fs.Output(), "Usage: dllm-runtime pull SOURCE [flags]\n\n"+
			"SOURCE is hf://ORG/NAME[@REVISION] (downloaded into --dir, verified, resumable), or\n"+
			"file:///PATH, pvc://CLAIM[/PATH] or oci://IMAGE (checked in place; pvc and oci under --dir).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	// The source may come before the flags, as in "pull hf://org/name --dir /models".
	var source string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		source, args = args[0], args[1:]
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	rest := fs.Args()
	if source == "" && len(rest) > 0 {
		source, rest = rest[0], rest[1:]
	}
	var problem string
	switch {
	case source == "":
		problem = "a SOURCE is required"
	case len(rest) > 0:
		problem = fmt.Sprintf("unexpected arguments %q", rest)
	case f.parallel < 1 || f.progress <= 0:
		problem = "--parallel and --progress-every must be positive"
	}
	if problem != "" {
		say(stderr, "dllm-runtime pull: %s\n", problem)
		fs.Usage()
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := pull(ctx, source, &f, log)
	if err != nil {
		log.Error("pull failed", "source", source, "err", err.Error())
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitError
	}
	say(stdout, "%s\n", dir)
	return exitOK
}

// pull brings source to a checkpoint folder and returns the folder.
func pull(ctx context.Context, source string, f *pullFlags, log *slog.Logger) (string, error) {
	scheme, rest, _ := strings.Cut(source, "://")
	var dir string
	switch scheme {
	case "hf":
		src, err := hub.ParseSource(source)
		if err != nil {
			return "", fmt.Errorf("%w: %w", err, errUsage)
		}
		if f.dir == "" {
			return "", fmt.Errorf("%s needs %s: %w", source, contract.DirFlag, errUsage)
		}
		token, err := hubToken(f.tokenFile)
		if err != nil {
			return "", err
		}
		c, err := hub.New(hub.Options{Endpoint: f.endpoint, Token: token, Parallel: f.parallel, Log: log, ProgressEvery: f.progress})
		if err != nil {
			return "", fmt.Errorf("%w: %w", err, errUsage)
		}
		if _, err := c.Pull(ctx, src, f.dir); err != nil {
			return "", err
		}
		dir = f.dir
	case "file":
		if !strings.HasPrefix(rest, "/") {
			return "", fmt.Errorf("%s: a file source is file:///ABSOLUTE/PATH: %w", source, errUsage)
		}
		dir = filepath.Clean(rest)
	case "pvc", "oci":
		if f.dir == "" {
			return "", fmt.Errorf("%s is checked where it is mounted: %s is required: %w", source, contract.DirFlag, errUsage)
		}
		dir = f.dir
		if scheme == "pvc" {
			if _, sub, ok := strings.Cut(rest, "/"); ok {
				dir = filepath.Join(f.dir, filepath.Clean("/"+sub))
			}
		}
	default:
		return "", fmt.Errorf("%s: the scheme is not one of hf, file, pvc, oci: %w", source, errUsage)
	}
	if err := checkFolder(dir); err != nil {
		return "", fmt.Errorf("%s: %w", source, err)
	}
	log.Info("model folder ready", "source", source, "dir", dir)
	return dir, nil
}

// hubToken reads the token from file, else from the environment; "" when there is none
// (public repositories need none).
func hubToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(contract.HubTokenEnv)), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("hub token: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// checkFolder checks that dir holds a checkpoint the runtime can load: its config and every
// tensor header (weights.Open) and its tokenizer.
func checkFolder(dir string) error {
	ck, err := weights.Open(dir)
	if err != nil {
		return err
	}
	if err := ck.Close(); err != nil {
		return err
	}
	if _, err := tokenizer.Load(dir); err != nil {
		return err
	}
	return nil
}
