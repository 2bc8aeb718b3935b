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
	"bufio"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"dllm.dev/dllm-operator/runtime/tasks"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/weights"
)

// eval runs held-out items of the chosen tasks through the engine, exact and cached, and
// reports per-task counts; the random test model's answers are noise, so only the harness is
// checked here.
func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{nil, {"--cache", "--cache-prompt-interval", "4", "--cache-response-interval", "2"}} {
		var stdout, stderr strings.Builder
		args := append([]string{"eval", "--model", dir, "--tasks", "add,retrieve", "--items", "3", "--json"}, extra...)
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Fatalf("eval %v: exit %d: %s", extra, code, stderr.String())
		}
		var res evalResult
		if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
			t.Fatalf("eval --json printed %q: %v", stdout.String(), err)
		}
		if len(res.Tasks) != 2 || res.Tasks[0].Task != "add" || res.Tasks[1].Task != "retrieve" || (res.Cache != nil) != (extra != nil) {
			t.Fatalf("eval %v: %+v", extra, res)
		}
		for _, r := range res.Tasks {
			if r.Items != 3 || r.Correct < 0 || r.Correct > 3 || r.Accuracy != float64(r.Correct)/3 {
				t.Errorf("eval %v: task %+v", extra, r)
			}
		}
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"eval", "--model", dir, "--agreement"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "needs --cache") {
		t.Errorf("--agreement without --cache: exit %d, %q", code, stderr.String())
	}
	if code := run([]string{"eval", "--model", dir, "--tasks", "divide"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), `"divide"`) {
		t.Errorf("unknown task: exit %d, %q", code, stderr.String())
	}
	if code := run([]string{"eval", "--model", dir, "--suite", "mmlu"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("unknown suite: exit %d", code)
	}
}

// tasks writes tokenized items, answers padded with end-of-sequence tokens to the task's
// response length; the held-out split is eval's items.
func TestTasksCommand(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	cfg, err := weights.LoadConfig(filepath.Join(dir, weights.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"tasks", "--model", dir, "--split", "heldout", "--items", "5", "--tasks", "copy,count"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("tasks: exit %d: %s", code, stderr.String())
	}
	want := append(tasks.All()[0].Items(tasks.HeldOut, 5, 1), tasks.All()[5].Items(tasks.HeldOut, 5, 1)...)
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(nil, 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		var r taskRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if n < len(want) && (r.Prompt != want[n].Prompt || r.Answer != want[n].Answer) {
			t.Errorf("line %d: %q, want eval's held-out item %q", n, r.Prompt, want[n].Prompt)
		}
		if len(r.AnswerIDs) != r.GenLength || len(r.PromptIDs) == 0 || r.AnswerIDs[len(r.AnswerIDs)-1] != cfg.EOSTokenID || r.Split != "heldout" {
			t.Errorf("line %d: %d answer ids for response length %d, not ending in end-of-sequence %d", n, len(r.AnswerIDs), r.GenLength, cfg.EOSTokenID)
		}
	}
	if n != 10 {
		t.Errorf("%d lines, want 10", n)
	}
	if code := run([]string{"tasks", "--model", dir, "--split", "test"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("bad split: exit %d", code)
	}
}

// closingPipe takes n lines and then fails every write as a pipe whose reader has gone.
type closingPipe struct {
	strings.Builder
	n int
}

func (p *closingPipe) Write(b []byte) (int, error) {
	if p.n == 0 {
		return 0, syscall.EPIPE
	}
	p.n -= strings.Count(string(b), "\n")
	return p.Builder.Write(b)
}

// tasks --stream takes the tasks in turn, each in Items' order with nothing left out but
// nothing remembered either, and stops quietly when its reader closes the pipe.
func TestTasksStream(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	out := &closingPipe{n: 2000}
	var stderr strings.Builder
	if code := run([]string{"tasks", "--model", dir, "--stream", "--tasks", "sort,add"}, out, &stderr); code != exitOK {
		t.Fatalf("tasks --stream: exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2000 {
		t.Fatalf("%d lines, want the 2000 the reader took", len(lines))
	}
	want := map[string][]tasks.Item{}
	for _, task := range []tasks.Task{tasks.All()[2], tasks.All()[3]} {
		for it := range task.Stream(tasks.Train, 1) {
			if want[task.Name] = append(want[task.Name], it); len(want[task.Name]) == 1000 {
				break
			}
		}
	}
	next := map[string]int{}
	for i, line := range lines {
		var r taskRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if name := []string{"sort", "add"}[i%2]; r.Task != name || r.Split != "train" {
			t.Fatalf("line %d: task %s (%s), want %s in turn, train split", i, r.Task, r.Split, name)
		}
		if w := want[r.Task][next[r.Task]]; r.Prompt != w.Prompt {
			t.Errorf("line %d: %q, want stream item %q", i, r.Prompt, w.Prompt)
		}
		next[r.Task]++
	}
	// Items is the stream with repeats dropped, so it starts where the stream starts.
	if items := tasks.All()[3].Items(tasks.Train, 1000, 1); len(items) != 1000 || items[0].Prompt != want["add"][0].Prompt {
		t.Errorf("Items: %d items starting %q", len(items), items[0].Prompt)
	}
}

// With K_p = K_r = 1 and rho = 0 the cached path is the exact path, so every agreement signal
// eval reports is 1 and the uncached accuracy is the cached one; the table prints them.
func TestEvalAgreement(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	base := []string{"eval", "--model", dir, "--tasks", "copy,add", "--items", "3", "--cache", "--agreement",
		"--cache-prompt-interval", "1", "--cache-response-interval", "1", "--cache-transfer-ratio", "0"}
	var stdout, stderr strings.Builder
	if code := run(slices.Concat(base, []string{"--json"}), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res evalResult
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Tasks {
		a := r.Uncached
		if a == nil || a.Top1 != 1 || a.Tokens != 1 || a.SameAnswer != 1 || a.UncachedAccuracy != r.Accuracy {
			t.Errorf("task %s: cached equals exact, yet %+v", r.Task, a)
		}
	}
	stdout.Reset()
	if code := run(base, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "uncached") || !strings.Contains(stdout.String(), "100.0%") {
		t.Errorf("table: exit %d:\n%s", code, stdout.String())
	}
}
