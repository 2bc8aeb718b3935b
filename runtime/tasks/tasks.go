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

// Package tasks owns the synthetic task suite that measures a model's quality: tasks with
// checkable answers (copy, reverse, sort, addition, retrieval from a long prompt of key/value
// pairs, and a long counting answer), their seeded item generators, the split of items into
// training and held-out sets (decided by a hash of the prompt, so no seed can make a held-out
// item a training item), and exact-match scoring. Training data and evaluation come from the
// same definitions. The package is pure: no model, no tokenizer.
package tasks

import (
	"fmt"
	"hash/fnv"
	"iter"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Split is a set of items: Train for training, HeldOut for evaluation.
type Split int

const (
	// Train items are the ones a model may be trained on.
	Train Split = iota
	// HeldOut items are never training items.
	HeldOut
)

func (s Split) String() string {
	if s == HeldOut {
		return "heldout"
	}
	return "train"
}

// heldOutShare is one in heldOutShare prompts is held out.
const heldOutShare = 8

// SplitOf returns the split prompt belongs to.
func SplitOf(prompt string) Split {
	h := fnv.New64a()
	_, _ = h.Write([]byte(prompt))
	if h.Sum64()%heldOutShare == 0 {
		return HeldOut
	}
	return Train
}

// Item is one question and its expected answer.
type Item struct {
	Task   string `json:"task"`
	Prompt string `json:"prompt"`
	Answer string `json:"answer"`
}

// Task is one kind of question.
type Task struct {
	// Name identifies the task on the command line and in reports.
	Name string
	// GenLength is the response length in tokens a model gets: room for the longest answer
	// (bytes, as a byte-level tokenizer may not merge) and the end-of-sequence token.
	GenLength int
	// generate draws one item.
	generate func(r *rand.Rand) Item
}

// All returns every task, in a fixed order.
func All() []Task {
	return []Task{
		{Name: "copy", GenLength: 16, generate: copyItem},
		{Name: "reverse", GenLength: 16, generate: reverseItem},
		{Name: "sort", GenLength: 16, generate: sortItem},
		{Name: "add", GenLength: 8, generate: addItem},
		{Name: "retrieve", GenLength: 4, generate: retrieveItem},
		{Name: "count", GenLength: 96, generate: countItem},
	}
}

// Practice returns training aids: easier variants of suite tasks that a model may be trained on
// but that are not part of the suite's score. retrieve-short asks the retrieval question over
// 2 to 49 pairs, so a small model learns the lookup on cheap prompts and then carries it to the
// suite's long ones. recite asks for every pair of a short list again, in the order its question
// names the keys: every value in its answer is a lookup of the key just before it, so one item
// teaches the lookup many times over (retrieve's answer teaches it once).
func Practice() []Task {
	return []Task{
		{Name: "retrieve-short", GenLength: 4, generate: func(r *rand.Rand) Item { it, _ := retrieve(r, 2+r.IntN(48)); return it }},
		{Name: "recite", GenLength: 40, generate: reciteItem},
	}
}

// Lookup returns the tasks named in names, comma-separated, in that order; "all" (or an empty
// names) stands for every suite task. Practice tasks are found by name.
func Lookup(names string) ([]Task, error) {
	if names == "" {
		names = "all"
	}
	known := append(All(), Practice()...)
	var out []Task
	for name := range strings.SplitSeq(names, ",") {
		name = strings.TrimSpace(name)
		if name == "all" {
			out = append(out, All()...)
			continue
		}
		i := slices.IndexFunc(known, func(t Task) bool { return t.Name == name })
		if i < 0 {
			list := make([]string, len(known))
			for k, t := range known {
				list[k] = t.Name
			}
			return nil, fmt.Errorf("unknown task %q (tasks: all, %s)", name, strings.Join(list, ", "))
		}
		out = append(out, known[i])
	}
	return out, nil
}

// Items returns n distinct items of t in split, drawn from seed: the same arguments always give
// the same items.
func (t Task) Items(split Split, n int, seed uint64) []Item {
	seen := map[string]bool{}
	items := make([]Item, 0, n)
	tries := 0
	for it := range t.stream(split, seed, &tries) {
		if len(items) == n || tries > 1000*n+1000 {
			break
		}
		if !seen[it.Prompt] {
			seen[it.Prompt] = true
			items = append(items, it)
		}
	}
	return items
}

// Stream yields items of t in split, drawn from seed, without end: Items' sequence before it
// drops repeats. Training reads it so that no item is seen twice and nothing can be learned by
// heart; it keeps no memory of what it yielded, so the small tasks may repeat an item.
func (t Task) Stream(split Split, seed uint64) iter.Seq[Item] {
	var tries int
	return t.stream(split, seed, &tries)
}

// stream counts in tries the items it generates, those of the other split included, so that
// Items can give up on a task whose split has fewer distinct items than it asks for.
func (t Task) stream(split Split, seed uint64, tries *int) iter.Seq[Item] {
	return func(yield func(Item) bool) {
		r := rand.New(rand.NewPCG(seed, uint64(len(t.Name))<<32|uint64(split)))
		for {
			it := t.generate(r)
			*tries++
			if SplitOf(it.Prompt) != split {
				continue
			}
			it.Task = t.Name
			if !yield(it) {
				return
			}
		}
	}
}

// Correct reports whether output answers it: equal after trimming surrounding space.
func Correct(it Item, output string) bool {
	return strings.TrimSpace(output) == it.Answer
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func word(r *rand.Rand, lo, hi int) string {
	b := make([]byte, lo+r.IntN(hi-lo+1))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func copyItem(r *rand.Rand) Item {
	w := word(r, 4, 12)
	return Item{Prompt: "copy: " + w + "\n", Answer: w}
}

func reverseItem(r *rand.Rand) Item {
	w := []byte(word(r, 4, 12))
	p := "reverse: " + string(w) + "\n"
	slices.Reverse(w)
	return Item{Prompt: p, Answer: string(w)}
}

func sortItem(r *rand.Rand) Item {
	w := []byte(word(r, 4, 12))
	p := "sort: " + string(w) + "\n"
	slices.Sort(w)
	return Item{Prompt: p, Answer: string(w)}
}

func addItem(r *rand.Rand) Item {
	a, b := r.IntN(10000), r.IntN(10000)
	return Item{Prompt: fmt.Sprintf("add: %d+%d\n", a, b), Answer: strconv.Itoa(a + b)}
}

// retrieveItem is a long prompt of key=value pairs (at least 256 tokens for a byte-level
// tokenizer) and a question about one key: the regime where caching the prompt pays. Keys are
// distinct letters and values one letter or digit, so each is one token and a value always
// sits two tokens after its key: the lookup is the classic two-step associative recall. Every
// letter is a key, in a random order, so the prompt is long enough.
func retrieveItem(r *rand.Rand) Item { it, _ := retrieve(r, len(keyLetters)); return it }

const (
	keyLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	// valueChars never merge with their neighbours in the byte-level test tokenizer.
	valueChars = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// retrieve asks for one of pairs (at most len(keyLetters)) "key=value;" pairs, which it also
// returns in prompt order.
func retrieve(r *rand.Rand, pairs int) (Item, []string) {
	keys := []byte(keyLetters)
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	list := make([]string, pairs)
	for i := range list {
		list[i] = string(keys[i]) + "=" + string(valueChars[r.IntN(len(valueChars))]) + ";"
	}
	i := r.IntN(pairs)
	prompt := "find: " + strings.Join(list, " ") + "\n? " + string(keys[i]) + "\n"
	return Item{Prompt: prompt, Answer: list[i][2:3]}, list
}

// reciteItem lists 2 to 8 pairs and asks for all of them again, in an order its question names
// key by key. Every value in the answer is a lookup whose key stands two tokens before it, as
// the key of retrieve's question stands two tokens before its answer; the answer's keys are
// copied from the question, so nothing in it is a guess.
func reciteItem(r *rand.Rand) Item {
	it, list := retrieve(r, 2+r.IntN(7))
	header := it.Prompt[:strings.Index(it.Prompt, "\n")]
	r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	keys := make([]string, len(list))
	for i, pair := range list {
		keys[i] = pair[:1]
	}
	return Item{Prompt: header + "\n? " + strings.Join(keys, " ") + "\n", Answer: strings.Join(list, " ")}
}

// countItem asks for the numbers from a to b: an answer of at least 64 bytes.
func countItem(r *rand.Rand) Item {
	a := 10 + r.IntN(890)
	b := a + 21 + r.IntN(3)
	nums := make([]string, 0, b-a+1)
	for x := a; x <= b; x++ {
		nums = append(nums, strconv.Itoa(x))
	}
	return Item{Prompt: fmt.Sprintf("count: %d to %d\n", a, b), Answer: strings.Join(nums, " ")}
}
