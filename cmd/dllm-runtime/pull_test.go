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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/runtime/hub/hubtest"
	"dllm.dev/dllm-operator/runtime/testmodel"
)

// pull on the command line: a multi-shard checkpoint from a local Hub with a token file, its
// progress in the log, then the pulled folder checked in place as a file:// and a pvc://
// source; usage and source errors exit with the right codes.
func TestPullCommand(t *testing.T) {
	src := t.TempDir()
	if err := testmodel.Write(src, testmodel.Options{Family: testmodel.FamilyDream, Seed: 2, Shards: 4}); err != nil {
		t.Fatal(err)
	}
	h, err := hubtest.New(src, "org/tiny-dream", "main")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.Token = "hf_secret"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := writeFile(tokenFile, "hf_secret\n"); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "org", "tiny-dream")
	var stdout, stderr strings.Builder
	code := run([]string{"pull", "hf://org/tiny-dream", "--dir", dir, "--endpoint", h.URL, "--token-file", tokenFile,
		"--progress-every", "1ms"}, &stdout, &stderr)
	t.Logf("pull output:\n%s", stderr.String())
	if code != exitOK || strings.TrimSpace(stdout.String()) != dir {
		t.Fatalf("pull: exit %d, stdout %q", code, stdout.String())
	}
	for _, want := range []string{`"msg":"pulling model"`, `"eta_seconds"`, `"msg":"model pulled"`, `"msg":"model folder ready"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(stderr.String(), "hf_secret") {
		t.Error("the token appears in the log")
	}
	for _, args := range [][]string{{"file://" + dir}, {"pvc://models-cache/org/tiny-dream", "--dir", root}} {
		stdout.Reset()
		if code := run(append([]string{"pull"}, args...), &stdout, &stderr); code != exitOK || strings.TrimSpace(stdout.String()) != dir {
			t.Errorf("pull %v: exit %d, stdout %q", args, code, stdout.String())
		}
	}

	if err := os.Remove(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"file://" + dir}, exitError, "tokenizer.json"},
		{[]string{"hf://org/tiny-dream"}, exitUsage, "--dir"},
		{[]string{"hf://org/tiny-dream@nope", "--dir", t.TempDir(), "--endpoint", h.URL, "--token-file", tokenFile}, exitError, "RevisionNotFound"},
		{[]string{"hf://org/tiny-dream", "--dir", t.TempDir(), "--endpoint", h.URL}, exitError, "check the token"},
		{[]string{"s3://bucket/model", "--dir", root}, exitUsage, "scheme"},
		{[]string{"--dir", root}, exitUsage, "SOURCE is required"},
		{[]string{"hf://a/b", "extra", "--dir", root}, exitUsage, "unexpected arguments"},
	} {
		stderr.Reset()
		if code := run(append([]string{"pull"}, tc.args...), &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.says) {
			t.Errorf("pull %v: exit %d, stderr %q; want exit %d saying %q", tc.args, code, stderr.String(), tc.code, tc.says)
		}
	}
}
