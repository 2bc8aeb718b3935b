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
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validConfig() Config {
	return Config{
		Model:      ModelConfig{Name: "llada", Family: FamilyLLaDA, Dir: "/models/llada", DType: DTypeBFloat16, Backend: BackendCUDA, GPUs: 1},
		Server:     ServerConfig{Port: 8000, MaxBatchSize: 8, MaxQueue: 64},
		Generation: GenerationConfig{Steps: 128, GenLength: 128, BlockLength: 32, Remasking: RemaskingLowConfidence},
		Cache:      CacheConfig{Enabled: true, PromptRefreshInterval: 100, ResponseRefreshInterval: 7, TransferPercent: 25, ShadowPercent: 5},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantField string // "" means valid
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "cpu without gpus", mutate: func(c *Config) { c.Model.Backend, c.Model.GPUs = BackendCPU, 0 }},
		{name: "cache off ignores intervals", mutate: func(c *Config) { c.Cache = CacheConfig{} }},
		{name: "empty name", mutate: func(c *Config) { c.Model.Name = "" }, wantField: "model.name"},
		{name: "unknown family", mutate: func(c *Config) { c.Model.Family = "GPT" }, wantField: "model.family"},
		{name: "relative dir", mutate: func(c *Config) { c.Model.Dir = "models/x" }, wantField: "model.dir"},
		{name: "unclean dir", mutate: func(c *Config) { c.Model.Dir = "/models/../etc" }, wantField: "model.dir"},
		{name: "bad dtype", mutate: func(c *Config) { c.Model.DType = "int8" }, wantField: "model.dtype"},
		{name: "bad backend", mutate: func(c *Config) { c.Model.Backend = "ROCm" }, wantField: "model.backend"},
		{name: "cuda without gpus", mutate: func(c *Config) { c.Model.GPUs = 0 }, wantField: "model.gpus"},
		{name: "cpu with gpus", mutate: func(c *Config) { c.Model.Backend = BackendCPU }, wantField: "model.gpus"},
		{name: "port zero", mutate: func(c *Config) { c.Server.Port = 0 }, wantField: "server.port"},
		{name: "batch too large", mutate: func(c *Config) { c.Server.MaxBatchSize = MaxBatchSize + 1 }, wantField: "server.maxBatchSize"},
		{name: "queue zero", mutate: func(c *Config) { c.Server.MaxQueue = 0 }, wantField: "server.maxQueue"},
		{name: "steps zero", mutate: func(c *Config) { c.Generation.Steps = 0 }, wantField: "generation.steps"},
		{name: "block does not divide", mutate: func(c *Config) { c.Generation.BlockLength = 48 }, wantField: "generation.blockLength"},
		{name: "steps not multiple of blocks", mutate: func(c *Config) { c.Generation.Steps = 6 }, wantField: "generation.steps"},
		{name: "bad remasking", mutate: func(c *Config) { c.Generation.Remasking = "low_confidence" }, wantField: "generation.remasking"},
		{name: "temperature too high", mutate: func(c *Config) { c.Generation.TemperatureMilli = 2001 }, wantField: "generation.temperatureMilli"},
		{name: "threshold too high", mutate: func(c *Config) { c.Generation.ParallelThresholdPermille = 1001 }, wantField: "generation.parallelThresholdPermille"},
		{name: "K_p zero", mutate: func(c *Config) { c.Cache.PromptRefreshInterval = 0 }, wantField: "cache.promptRefreshInterval"},
		{name: "K_r too large", mutate: func(c *Config) { c.Cache.ResponseRefreshInterval = MaxRefreshInterval + 1 }, wantField: "cache.responseRefreshInterval"},
		{name: "rho over 100", mutate: func(c *Config) { c.Cache.TransferPercent = 101 }, wantField: "cache.transferPercent"},
		{name: "negative shadow", mutate: func(c *Config) { c.Cache.ShadowPercent = -1 }, wantField: "cache.shadowPercent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantField != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error naming %s", tc.wantField)
			case tc.wantField != "" && !strings.Contains(err.Error(), tc.wantField+":"):
				t.Fatalf("Validate() = %q, want it to name %s", err, tc.wantField)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	err := (&Config{}).Validate()
	if err == nil {
		t.Fatal("Validate() of the zero Config = nil, want errors")
	}
	for _, field := range []string{"model.name", "model.family", "model.dir", "server.port", "generation.steps", "generation.remasking"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("Validate() of the zero Config = %q, want it to name %s", err, field)
		}
	}
}

func TestParse(t *testing.T) {
	want := validConfig()
	data, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Parse(Marshal(c)) error: %v", err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("Parse(Marshal(c)) mismatch (-want +got):\n%s", diff)
	}

	bad := []struct{ name, doc, wantErr string }{
		{"unknown field", strings.Replace(string(data), `"port"`, `"prot"`, 1), `unknown field "prot"`},
		{"trailing data", string(data) + "{}", "unexpected data"},
		{"not json", "model: x", "decode runtime config"},
		{"invalid value", strings.Replace(string(data), `"LLaDA"`, `"llada"`, 1), "model.family"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParse checks that Parse never panics on untrusted input and that every configuration it
// accepts survives a Marshal/Parse round trip unchanged.
func FuzzParse(f *testing.F) {
	c := validConfig()
	seed, _ := c.Marshal()
	f.Add(seed)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"model":{"dir":"/"}} []`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed config: %v", err)
		}
		again, err := Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(data))): %v", err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}
