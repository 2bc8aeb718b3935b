//go:build !cuda

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
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/testmodel"
)

// The default build never links gorgonia.org/cu: its initialiser exits the process on a
// machine without a GPU, which would take every CPU pod down with it.
func TestDefaultBuildDoesNotLinkCUDA(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(dep, "gorgonia.org/cu") || strings.HasSuffix(dep, "/runtime/backend/cuda") {
			t.Errorf("dllm-runtime without the cuda tag depends on %s", dep)
		}
	}
}

// Asking a binary without the CUDA backend for it is a clear error naming the build tag: on the
// command line, and in a pod's config before the server reports live.
func TestCUDAWithoutTheTag(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"generate", "--model", dir, "--prompt-ids", "1,2,3", "--gen-length", "4", "--backend", "cuda"},
		{"bench", "--model", dir, "--prompt-len", "4", "--gen-length", "4", "--steps", "4", "--block-length", "4", "--repeats", "1", "--backend", "cuda"},
	} {
		var stderr strings.Builder
		if code := run(args, io.Discard, &stderr); code == exitOK || !strings.Contains(stderr.String(), "-tags cuda") {
			t.Errorf("%v: exit %d, stderr %q; want a failure naming -tags cuda", args, code, stderr.String())
		}
	}

	cfg := serveConfig(t)
	cfg.Model.Backend, cfg.Model.GPUs = contract.BackendCUDA, 1
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	if code := run([]string{"serve", "--config", path}, io.Discard, &stderr); code == exitOK || !strings.Contains(stderr.String(), "-tags cuda") {
		t.Errorf("serve on CUDA: exit %d, stderr %q; want a failure naming -tags cuda", code, stderr.String())
	}
}
