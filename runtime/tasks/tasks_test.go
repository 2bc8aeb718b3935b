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

package tasks_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/runtime/tasks"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/tokenizer"
)

// Items are reproducible, distinct, in their split, and no held-out prompt is ever a
// training prompt, whatever the seeds.
func TestItemsAndSplits(t *testing.T) {
	for _, task := range tasks.All() {
		train := task.Items(tasks.Train, 400, 1)
		train = append(train, task.Items(tasks.Train, 400, 2)...)
		held := task.Items(tasks.HeldOut, 50, 1)
		if len(held) != 50 || len(train) != 800 {
			t.Fatalf("%s: %d held-out and %d training items", task.Name, len(held), len(train))
		}
		if again := task.Items(tasks.HeldOut, 50, 1); !slices.Equal(again, held) {
			t.Errorf("%s: the same seed gave different items", task.Name)
		}
		prompts := map[string]bool{}
		for _, it := range train {
			prompts[it.Prompt] = true
			if tasks.SplitOf(it.Prompt) != tasks.Train || it.Task != task.Name {
				t.Fatalf("%s: training item %+v", task.Name, it)
			}
		}
		seen := map[string]bool{}
		for _, it := range held {
			if prompts[it.Prompt] || seen[it.Prompt] || tasks.SplitOf(it.Prompt) != tasks.HeldOut {
				t.Fatalf("%s: held-out item %q is a training item or repeated", task.Name, it.Prompt)
			}
			seen[it.Prompt] = true
			if !tasks.Correct(it, " "+it.Answer+"\n") || tasks.Correct(it, it.Answer+"x") {
				t.Errorf("%s: scoring of %q", task.Name, it.Answer)
			}
		}
	}
}

// The answers are right, and the lengths are what the suite promises: the retrieval prompt has
// at least 256 tokens and the counting answer at least 64, with the runtime's byte-level
// tokenizer; every answer fits its task's response length.
func TestAnswersAndLengths(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	count := func(s string) int {
		ids, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		return len(ids)
	}
	for _, task := range tasks.All() {
		for _, it := range task.Items(tasks.HeldOut, 30, 7) {
			if n := count(it.Answer); n+1 > task.GenLength {
				t.Errorf("%s: answer %q takes %d tokens, more than the response length %d leaves", task.Name, it.Answer, n, task.GenLength)
			}
			body := strings.TrimSuffix(strings.SplitN(it.Prompt, ": ", 2)[1], "\n")
			switch task.Name {
			case "copy":
				if it.Answer != body {
					t.Errorf("copy %q -> %q", body, it.Answer)
				}
			case "add":
				a, b, _ := strings.Cut(body, "+")
				x, _ := strconv.Atoi(a)
				y, _ := strconv.Atoi(b)
				if it.Answer != strconv.Itoa(x+y) {
					t.Errorf("add %q -> %q", body, it.Answer)
				}
			case "retrieve":
				q := strings.TrimSpace(it.Prompt[strings.LastIndex(it.Prompt, "?")+1:])
				if !strings.Contains(it.Prompt, " "+q+"="+it.Answer+";") {
					t.Errorf("retrieve: %s is not %s in %q", q, it.Answer, it.Prompt)
				}
				if n := count(it.Prompt); n < 256 {
					t.Errorf("retrieve: a prompt of %d tokens, want at least 256", n)
				}
			case "count":
				if n := count(it.Answer); n < 64 {
					t.Errorf("count: an answer of %d tokens, want at least 64", n)
				}
			}
		}
	}
}

func TestLookup(t *testing.T) {
	if ts, err := tasks.Lookup("add, copy"); err != nil || len(ts) != 2 || ts[0].Name != "add" {
		t.Errorf("Lookup(add, copy) = %v, %v", ts, err)
	}
	if ts, err := tasks.Lookup(""); err != nil || len(ts) != len(tasks.All()) {
		t.Errorf("Lookup() = %d tasks, %v", len(ts), err)
	}
	if ts, err := tasks.Lookup("all,recite"); err != nil || len(ts) != len(tasks.All())+1 || ts[len(ts)-1].Name != "recite" {
		t.Errorf("Lookup(all,recite) = %v, %v", ts, err)
	}
	if _, err := tasks.Lookup("copy,divide"); err == nil || !strings.Contains(err.Error(), `"divide"`) {
		t.Errorf("Lookup(divide) error = %v", err)
	}
}

// Practice items are right and stay outside the suite: retrieve-short asks about fewer pairs
// than retrieve, and recite's answer is the prompt's pairs again, in the order its question
// names the keys.
func TestPractice(t *testing.T) {
	for _, task := range tasks.Practice() {
		if _, err := tasks.Lookup(task.Name); err != nil {
			t.Errorf("Lookup(%s): %v", task.Name, err)
		}
		for _, it := range task.Items(tasks.Train, 50, 3) {
			pairs := strings.Fields(strings.TrimPrefix(it.Prompt[:strings.Index(it.Prompt, "\n")], "find:"))
			switch task.Name {
			case "retrieve-short":
				q := strings.TrimSpace(it.Prompt[strings.LastIndex(it.Prompt, "?")+1:])
				if len(pairs) > 49 || !slices.Contains(pairs, q+"="+it.Answer+";") {
					t.Errorf("retrieve-short: %s is not %s in %q", q, it.Answer, it.Prompt)
				}
			case "recite":
				got := strings.Fields(it.Answer)
				keys := strings.Fields(it.Prompt[strings.LastIndex(it.Prompt, "?")+1:])
				inOrder := len(keys) == len(got)
				for i := 0; inOrder && i < len(got); i++ {
					inOrder = strings.HasPrefix(got[i], keys[i]+"=")
				}
				slices.Sort(got)
				slices.Sort(pairs)
				if !slices.Equal(got, pairs) || !inOrder || len(it.Answer) >= task.GenLength {
					t.Errorf("recite %q -> %q", it.Prompt, it.Answer)
				}
			}
		}
	}
	for _, task := range tasks.All() {
		if slices.ContainsFunc(tasks.Practice(), func(p tasks.Task) bool { return p.Name == task.Name }) {
			t.Errorf("%s is both a suite task and a practice task", task.Name)
		}
	}
}
