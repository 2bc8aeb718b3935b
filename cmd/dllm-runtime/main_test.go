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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

func TestRunTestModel(t *testing.T) {
	for _, family := range []string{"llada", "dream"} {
		t.Run(family, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "model")
			var stdout, stderr bytes.Buffer
			args := []string{"testmodel", "--family", family, "--out", out, "--seed", "3", "--layers", "1", "--shards", "2", "--kv-heads", "1"}
			if code := run(args, &stdout, &stderr); code != exitOK {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", args, code, exitOK, stderr.String())
			}
			if !strings.Contains(stdout.String(), out) || stderr.Len() != 0 {
				t.Errorf("run(%q) stdout = %q, stderr = %q, want the folder on stdout only", args, stdout.String(), stderr.String())
			}
			ckpt, err := weights.Open(out)
			if err != nil {
				t.Fatalf("weights.Open() error: %v", err)
			}
			defer func() { _ = ckpt.Close() }()
			if got := ckpt.Config; got.Layers != 1 || got.KVHeads != 1 {
				t.Errorf("Config layers, kv heads = %d, %d, want 1, 1", got.Layers, got.KVHeads)
			}
			if _, err := os.Stat(filepath.Join(out, weights.IndexFile)); err != nil {
				t.Errorf("--shards 2 wrote no index: %v", err)
			}
			if _, err := tokenizer.Load(out); err != nil {
				t.Errorf("tokenizer.Load() error: %v", err)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: exitUsage, wantStderr: "Usage: dllm-runtime <command>"},
		{name: "help", args: []string{"--help"}, wantCode: exitOK, wantStdout: "testmodel"},
		{name: "unknown command", args: []string{"train"}, wantCode: exitUsage, wantStderr: `unknown command "train"`},
		{name: "serve without a config", args: []string{"serve", "--config", filepath.Join(dir, "missing.json")}, wantCode: exitUsage, wantStderr: "invalid configuration"},
		{name: "unknown flag", args: []string{"testmodel", "--bogus"}, wantCode: exitUsage, wantStderr: "flag provided but not defined: -bogus"},
		{name: "bad flag value", args: []string{"testmodel", "--layers", "two"}, wantCode: exitUsage, wantStderr: `invalid value "two"`},
		{name: "missing family", args: []string{"testmodel", "--out", dir}, wantCode: exitUsage, wantStderr: "--family is required"},
		{name: "missing out", args: []string{"testmodel", "--family", "llada"}, wantCode: exitUsage, wantStderr: "--out is required"},
		{name: "extra argument", args: []string{"testmodel", "--family", "llada", "--out", dir, "extra"}, wantCode: exitUsage, wantStderr: "unexpected arguments"},
		{name: "subcommand help", args: []string{"testmodel", "-h"}, wantCode: exitOK, wantStderr: "-kv-heads"},
		{name: "unknown family", args: []string{"testmodel", "--family", "gpt2", "--out", dir}, wantCode: exitError, wantStderr: `family: "gpt2" unsupported`},
		{name: "invalid size", args: []string{"testmodel", "--family", "dream", "--out", dir, "--kv-heads", "3"}, wantCode: exitError, wantStderr: "kv-heads: 3 does not divide heads 4"},
		{
			name: "unwritable out", args: []string{"testmodel", "--family", "llada", "--out", filepath.Join(dir, "file", "model")},
			wantCode: exitError, wantStderr: "write test model",
		},
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tc.args, stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tc.args, stderr.String(), tc.wantStderr)
			}
		})
	}
}
