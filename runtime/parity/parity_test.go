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

package parity_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/backendtest"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/weights"
)

// Tolerances against the float32 PyTorch reference. Both sides compute in float32 from the same
// BF16 weights; they differ only in summation order, so the error is a few float32 ulps of the
// largest magnitudes involved, well under these bounds, and far under the decision margins the
// fixtures record for generation (≥ 2e-5 in logit units).
const (
	relTolHidden = 1e-5 // of the largest |value| in the layer
	relTolLogits = 1e-5 // of the largest |logit| in the case
)

// fixture is the file hack/parity/reference.py writes.
type fixture struct {
	Generator    string         `json:"generator"`
	TorchVersion string         `json:"torch_version"`
	Checkpoint   checkpointSpec `json:"checkpoint"`
	Forward      []struct {
		Name         string      `json:"name"`
		InputIDs     []int       `json:"input_ids"`
		HiddenStates [][]float32 `json:"hidden_states"`
		Logits       []float32   `json:"logits"`
	} `json:"forward"`
	Generate []generateCase `json:"generate"`
}

// checkpointSpec is a fixture's record of the testmodel checkpoint it was computed on.
type checkpointSpec struct {
	Family      string `json:"family"`
	Seed        int64  `json:"seed"`
	DModel      int    `json:"d_model"`
	Layers      int    `json:"layers"`
	Heads       int    `json:"heads"`
	KVHeads     int    `json:"kv_heads"`
	MLP         int    `json:"mlp"`
	Vocab       int    `json:"vocab"`
	ModelSHA256 string `json:"model_sha256"`
}

type generateCase struct {
	Name           string          `json:"name"`
	PromptIDs      []int           `json:"prompt_ids"`
	Settings       json.RawMessage `json:"settings"`
	TransferCounts []int           `json:"transfer_counts"`
	GeneratedIDs   []int           `json:"generated_ids"`
	MinMargin      float64         `json:"min_margin"`
}

// readFixture decodes testdata/name into v.
func readFixture(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("testdata/%s: %v", name, err)
	}
}

// rebuild writes the checkpoint c describes and opens it, failing if its bytes are not the ones
// the fixture testdata/name was computed from.
func rebuild(t *testing.T, c checkpointSpec, name string) *weights.Checkpoint {
	t.Helper()
	dir := t.TempDir()
	o := testmodel.Options{Family: c.Family, Seed: c.Seed, DModel: c.DModel, Layers: c.Layers,
		Heads: c.Heads, KVHeads: c.KVHeads, MLP: c.MLP, Vocab: c.Vocab}
	if err := testmodel.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, weights.SingleFile))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != c.ModelSHA256 {
		t.Fatalf("testmodel %+v no longer writes the weights testdata/%s was computed from; "+
			"if the change is deliberate, run hack/parity/regen.sh", o, name)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ck.Close() })
	return ck
}

// setup loads the fixture of family and rebuilds its checkpoint.
func setup(t *testing.T, family string) (*fixture, *weights.Checkpoint) {
	t.Helper()
	var f fixture
	readFixture(t, family+".json", &f)
	return &f, rebuild(t, f.Checkpoint, family+".json")
}

// backends are every backend the parity tests run on: both CPU implementations, and the GPU
// in a binary built with -tags cuda.
func backends(t *testing.T) []tensor.Backend { return backendtest.Backends(t) }

func TestForwardParity(t *testing.T) {
	for _, family := range []string{"llada", "dream"} {
		t.Run(family, func(t *testing.T) {
			f, ck := setup(t, family)
			for _, b := range backends(t) {
				m, err := families.Load(b, ck)
				if err != nil {
					t.Fatal(err)
				}
				for _, fc := range f.Forward {
					t.Run(b.Name()+"/"+fc.Name, func(t *testing.T) {
						checkForward(t, b, m, fc.InputIDs, fc.HiddenStates, fc.Logits)
					})
				}
			}
		})
	}
}

func checkForward(t *testing.T, b tensor.Backend, m *model.Model, ids []int, hidden [][]float32, want []float32) {
	t.Helper()
	if len(hidden) != m.Arch().Layers+1 {
		t.Fatalf("fixture has %d hidden states, the model %d layers", len(hidden), m.Arch().Layers)
	}
	logits, err := m.Forward(context.Background(), [][]int{ids}, nil, func(layer int, h *tensor.Tensor) error {
		got, err := b.ToFloat32(h)
		if err != nil {
			return err
		}
		if err := compare(got, hidden[layer], relTolHidden); err != nil {
			t.Errorf("hidden state after layer %d: %v", layer, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := compare(logits[0], want, relTolLogits); err != nil {
		t.Errorf("logits: %v", err)
	}
}

// compare checks |got − want| ≤ rel·max|want| elementwise.
func compare(got, want []float32, rel float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	var scale, worst float64
	at := 0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > worst {
			worst, at = d, i
		}
	}
	if worst > rel*scale {
		return fmt.Errorf("max difference %g at %d (got %v, want %v) exceeds %g·%g", worst, at, got[at], want[at], rel, scale)
	}
	return nil
}

// lladaSettings and dreamSettings are the fixtures' sampler settings, in the reference's names.
type lladaSettings struct {
	GenLength   int     `json:"gen_length"`
	BlockLength int     `json:"block_length"`
	Steps       int     `json:"steps"`
	Temperature float64 `json:"temperature"`
	Remasking   string  `json:"remasking"`
}

type dreamSettings struct {
	MaxNewTokens int     `json:"max_new_tokens"`
	Steps        int     `json:"steps"`
	Eps          float64 `json:"eps"`
	Temperature  float64 `json:"temperature"`
	Alg          string  `json:"alg"`
	AlgTemp      float64 `json:"alg_temp"`
}

func TestGenerateParity(t *testing.T) {
	for _, family := range []string{"llada", "dream"} {
		t.Run(family, func(t *testing.T) {
			f, ck := setup(t, family)
			for _, b := range backends(t) {
				m, err := families.Load(b, ck)
				if err != nil {
					t.Fatal(err)
				}
				for _, gc := range f.Generate {
					t.Run(b.Name()+"/"+gc.Name, func(t *testing.T) {
						counts, got := run(t, m, ck.Config, gc)
						if !slices.Equal(counts, gc.TransferCounts) {
							t.Errorf("tokens committed per step = %v, want %v", counts, gc.TransferCounts)
						}
						if !slices.Equal(got, gc.GeneratedIDs) {
							t.Errorf("generated ids (min decision margin %g)\n got %v\nwant %v", gc.MinMargin, got, gc.GeneratedIDs)
						}
					})
				}
			}
		})
	}
}

// run runs the fixture's sampler settings and returns the tokens committed per step and the
// response region.
func run(t *testing.T, m *model.Model, cfg weights.Config, gc generateCase) ([]int, []int) {
	t.Helper()
	var counts []int
	onStep := func(s sampler.Step) error {
		counts = append(counts, len(s.Positions[0]))
		return nil
	}
	var (
		res *sampler.Result
		err error
	)
	switch cfg.Family {
	case weights.FamilyLLaDA:
		res, err = sampler.LLaDA(context.Background(), m, [][]int{gc.PromptIDs}, lladaOptions(t, cfg, gc), onStep)
	case weights.FamilyDream:
		res, err = sampler.Dream(context.Background(), m, [][]int{gc.PromptIDs}, dreamOptions(t, cfg, gc), onStep)
	default:
		t.Fatalf("no sampler for %s", cfg.Family)
	}
	if err != nil {
		t.Fatal(err)
	}
	return counts, res.Generated[0]
}

func lladaOptions(t *testing.T, cfg weights.Config, gc generateCase) sampler.LLaDAOptions {
	t.Helper()
	var s lladaSettings
	if err := json.Unmarshal(gc.Settings, &s); err != nil {
		t.Fatal(err)
	}
	remask, err := sampler.ParseRemasking(s.Remasking)
	if err != nil {
		t.Fatal(err)
	}
	return sampler.LLaDAOptions{Steps: s.Steps, GenLength: s.GenLength, BlockLength: s.BlockLength,
		Temperature: s.Temperature, Remasking: remask, MaskID: cfg.MaskTokenID, PadID: cfg.EOSTokenID,
		EOSID: cfg.EOSTokenID, EoTID: -1}
}

func dreamOptions(t *testing.T, cfg weights.Config, gc generateCase) sampler.DreamOptions {
	t.Helper()
	var s dreamSettings
	if err := json.Unmarshal(gc.Settings, &s); err != nil {
		t.Fatal(err)
	}
	alg, err := sampler.ParseAlgorithm(s.Alg)
	if err != nil {
		t.Fatal(err)
	}
	return sampler.DreamOptions{Steps: s.Steps, MaxNewTokens: s.MaxNewTokens, Eps: s.Eps,
		Temperature: s.Temperature, Algorithm: alg, AlgTemp: s.AlgTemp, MaskID: cfg.MaskTokenID,
		PadID: cfg.EOSTokenID}
}
