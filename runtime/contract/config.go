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

package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
)

// Config is the runtime configuration: the JSON document the operator renders into a ConfigMap
// and `dllm-runtime serve --config FILE` reads. Enumerated values use the spellings of the
// serving.dllm.dev API so neither side translates them.
type Config struct {
	// Model says which checkpoint to load and how to compute with it.
	Model ModelConfig `json:"model"`
	// Server configures the HTTP server and admission.
	Server ServerConfig `json:"server"`
	// Generation holds the sampler defaults for requests that do not set their own.
	Generation GenerationConfig `json:"generation"`
	// Cache holds the dLLM-Cache settings. The runtime may change them live (admin endpoint or
	// a changed file) without a restart, so the operator leaves them out of the Pod template hash.
	Cache CacheConfig `json:"cache"`
}

// ModelConfig says which checkpoint to load and how to compute with it.
type ModelConfig struct {
	// Name is the model ID the OpenAI API reports and accepts.
	Name string `json:"name"`
	// Family is the architecture: FamilyLLaDA or FamilyDream.
	Family string `json:"family"`
	// Dir is the absolute path of the Hugging Face checkpoint folder.
	Dir string `json:"dir"`
	// DType is the compute format: DTypeBFloat16, DTypeFloat16 or DTypeFloat32.
	DType string `json:"dtype"`
	// Backend is BackendCPU or BackendCUDA.
	Backend string `json:"backend"`
	// GPUs is the number of GPUs the Pod has; 0 on the CPU backend.
	GPUs int `json:"gpus,omitempty"`
}

// ServerConfig configures the HTTP server and admission.
type ServerConfig struct {
	// Port is the TCP port of the API, probes and metrics.
	Port int `json:"port"`
	// MaxBatchSize is the most requests denoised together.
	MaxBatchSize int `json:"maxBatchSize"`
	// MaxQueue is the most requests waiting; more are answered with HTTP 429.
	MaxQueue int `json:"maxQueue"`
}

// GenerationConfig holds the sampler defaults.
type GenerationConfig struct {
	// Steps is the number of denoising steps per request.
	Steps int `json:"steps"`
	// GenLength is the number of response tokens.
	GenLength int `json:"genLength"`
	// BlockLength is the semi-autoregressive block length; it divides GenLength.
	BlockLength int `json:"blockLength"`
	// Remasking is one of RemaskingLowConfidence, RemaskingRandom, RemaskingMargin,
	// RemaskingEntropy.
	Remasking string `json:"remasking"`
	// TemperatureMilli is the sampling temperature in thousandths; 0 is greedy.
	TemperatureMilli int `json:"temperatureMilli"`
	// ParallelThresholdPermille enables confidence-aware parallel decoding when above 0.
	ParallelThresholdPermille int `json:"parallelThresholdPermille,omitempty"`
}

// CacheConfig holds the dLLM-Cache settings.
type CacheConfig struct {
	// Enabled turns the feature cache on. When false every step recomputes every token and the
	// interval and transfer fields are ignored.
	Enabled bool `json:"enabled"`
	// PromptRefreshInterval is K_p, in forward passes.
	PromptRefreshInterval int `json:"promptRefreshInterval,omitempty"`
	// ResponseRefreshInterval is K_r, in forward passes.
	ResponseRefreshInterval int `json:"responseRefreshInterval,omitempty"`
	// TransferPercent is rho in percent.
	TransferPercent int `json:"transferPercent,omitempty"`
	// ShadowPercent is the percent of requests also computed without the cache to measure
	// agreement; 0 turns shadow checks off.
	ShadowPercent int `json:"shadowPercent,omitempty"`
}

// Enumerated values of the configuration.
const (
	FamilyLLaDA = "LLaDA"
	FamilyDream = "Dream"

	DTypeBFloat16 = "BFloat16"
	DTypeFloat16  = "Float16"
	DTypeFloat32  = "Float32"

	BackendCPU  = "CPU"
	BackendCUDA = "CUDA"

	RemaskingLowConfidence = "LowConfidence"
	RemaskingRandom        = "Random"
	RemaskingMargin        = "Margin"
	RemaskingEntropy       = "Entropy"
)

// Limits the configuration is validated against. They match the serving.dllm.dev API's bounds.
const (
	MaxSteps            = 4096
	MaxGenLength        = 4096
	MaxBatchSize        = 256
	MaxQueue            = 10000
	MaxTemperatureMilli = 2000
	MaxRefreshInterval  = 10000
	MaxModelNameLength  = 253
	MaxGPUs             = 8
)

// Parse decodes and validates a configuration document. Unknown fields and trailing data are
// errors, so a typo in a hand-written file is reported rather than ignored.
func Parse(r io.Reader) (*Config, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode runtime config: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode runtime config: unexpected data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Marshal encodes the configuration as the indented JSON document the runtime reads. The output
// is deterministic, so its hash identifies the configuration.
func (c *Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode runtime config: %w", err)
	}
	return buf.Bytes(), nil
}

// Validate reports every invalid field, each error naming the field by its JSON path.
func (c *Config) Validate() error {
	var v validator
	m := c.Model
	v.check(m.Name != "" && len(m.Name) <= MaxModelNameLength, "model.name", "must be 1 to %d characters", MaxModelNameLength)
	v.oneOf("model.family", m.Family, FamilyLLaDA, FamilyDream)
	v.check(path.IsAbs(m.Dir) && path.Clean(m.Dir) == m.Dir, "model.dir", "must be a clean absolute path, got %q", m.Dir)
	v.oneOf("model.dtype", m.DType, DTypeBFloat16, DTypeFloat16, DTypeFloat32)
	v.oneOf("model.backend", m.Backend, BackendCPU, BackendCUDA)
	if m.Backend == BackendCUDA {
		v.between("model.gpus", m.GPUs, 1, MaxGPUs)
	} else {
		v.check(m.GPUs == 0, "model.gpus", "must be 0 on the %s backend", BackendCPU)
	}

	s := c.Server
	v.between("server.port", s.Port, 1, 65535)
	v.between("server.maxBatchSize", s.MaxBatchSize, 1, MaxBatchSize)
	v.between("server.maxQueue", s.MaxQueue, 1, MaxQueue)

	g := c.Generation
	v.between("generation.steps", g.Steps, 1, MaxSteps)
	v.between("generation.genLength", g.GenLength, 1, MaxGenLength)
	v.between("generation.blockLength", g.BlockLength, 1, MaxGenLength)
	if g.GenLength >= 1 && g.BlockLength >= 1 {
		if g.GenLength%g.BlockLength != 0 {
			v.add("generation.blockLength", "must divide generation.genLength (%d), got %d", g.GenLength, g.BlockLength)
		} else if blocks := g.GenLength / g.BlockLength; g.Steps%blocks != 0 {
			v.add("generation.steps", "must be a multiple of the number of blocks (%d), got %d", blocks, g.Steps)
		}
	}
	v.oneOf("generation.remasking", g.Remasking, RemaskingLowConfidence, RemaskingRandom, RemaskingMargin, RemaskingEntropy)
	v.between("generation.temperatureMilli", g.TemperatureMilli, 0, MaxTemperatureMilli)
	v.between("generation.parallelThresholdPermille", g.ParallelThresholdPermille, 0, 1000)

	k := c.Cache
	if k.Enabled {
		v.between("cache.promptRefreshInterval", k.PromptRefreshInterval, 1, MaxRefreshInterval)
		v.between("cache.responseRefreshInterval", k.ResponseRefreshInterval, 1, MaxRefreshInterval)
	}
	v.between("cache.transferPercent", k.TransferPercent, 0, 100)
	v.between("cache.shadowPercent", k.ShadowPercent, 0, 100)
	return v.err()
}

// validator collects field errors so Validate reports all of them at once.
type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
}

func (v *validator) check(ok bool, field, format string, args ...any) {
	if !ok {
		v.add(field, format, args...)
	}
}

func (v *validator) between(field string, got, lo, hi int) {
	v.check(got >= lo && got <= hi, field, "must be between %d and %d, got %d", lo, hi, got)
}

func (v *validator) oneOf(field, got string, allowed ...string) {
	v.check(slices.Contains(allowed, got), field, "must be one of %q, got %q", allowed, got)
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid runtime config: %w", errors.Join(v.errs...))
}
