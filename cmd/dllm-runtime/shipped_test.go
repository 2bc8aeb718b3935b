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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shippedModel is the trained tiny model the repository ships (models/tiny-tasks/README.md).
var shippedModel = filepath.Join("..", "..", "models", "tiny-tasks")

// The shipped model's weights are the ones its training recorded, and a quick eval on a few
// held-out items of each task finds it still answers: accuracy on the tasks its model card
// reports as learned must not collapse (the floors leave room for 12 items' sampling noise
// around the card's 100-item figures).
func TestShippedModel(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(shippedModel, "train.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		SHA256 string `json:"model.safetensors sha256"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(shippedModel, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(weights); hex.EncodeToString(sum[:]) != rec.SHA256 {
		t.Fatalf("model.safetensors sha256 %x, train.json records %s", sum, rec.SHA256)
	}

	var stdout, stderr strings.Builder
	if code := run([]string{"eval", "--model", shippedModel, "--items", "12", "--json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("eval: exit %d: %s", code, stderr.String())
	}
	var res evalResult
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Tasks {
		t.Logf("%-8s %2d/%d", r.Task, r.Correct, r.Items)
		if floor, learned := shippedFloors[r.Task]; learned && r.Accuracy < floor {
			t.Errorf("%s: %d of %d held-out items right, below the floor of %.0f%%", r.Task, r.Correct, r.Items, 100*floor)
		}
	}
}

// shippedFloors are the lowest accuracies TestShippedModel accepts on 12 held-out items of the
// tasks the model card reports as learned (copy 98 %, reverse 92 %, sort 79 %, retrieve 100 % on
// 100 items): far enough below them that sampling noise does not trip the test, high enough that
// a broken loader, tokenizer or sampler does.
var shippedFloors = map[string]float64{"copy": 0.75, "reverse": 0.6, "sort": 0.4, "retrieve": 0.75}
