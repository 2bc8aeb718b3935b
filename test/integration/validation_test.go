//go:build integration

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

package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// validationCase is one manifest and the substring of the API server's answer that must name the
// offending field ("" for a manifest that must be accepted).
type validationCase struct {
	name    string
	spec    string // the spec, in YAML
	objName string // metadata.name; defaults to a name derived from the case
	wantErr string
}

const validModel = "model: {family: LLaDA, source: hf://GSAI-ML/LLaDA-8B-Instruct}\n"

// invalidCases are manifests the API server must reject, each with a message naming the field.
var invalidCases = []validationCase{
	// model
	{name: "model missing", spec: "replicas: 1", wantErr: "spec.model: Required value"},
	{name: "family missing", spec: "model: {source: hf://a/b}", wantErr: "spec.model.family: Required value"},
	{name: "family unknown", spec: "model: {family: GPT, source: hf://a/b}", wantErr: `spec.model.family: Unsupported value: "GPT"`},
	{name: "source missing", spec: "model: {family: LLaDA}", wantErr: "spec.model.source: Required value"},
	{name: "source scheme unknown", spec: "model: {family: LLaDA, source: s3://bucket/llada}", wantErr: "spec.model.source must start with hf://, pvc://, file:// or oci://"},
	{name: "source hf without name", spec: "model: {family: LLaDA, source: hf://GSAI-ML}", wantErr: "spec.model.source must have the form hf://ORG/NAME"},
	{name: "source hf with query", spec: "model: {family: LLaDA, source: 'hf://GSAI-ML/LLaDA?x=1'}", wantErr: "spec.model.source must have the form hf://ORG/NAME"},
	{name: "source pvc uppercase claim", spec: "model: {family: LLaDA, source: pvc://Models/llada}", wantErr: "spec.model.source must have the form pvc://CLAIM[/PATH]"},
	{name: "source file relative", spec: "model: {family: LLaDA, source: file://models/llada}", wantErr: "spec.model.source must have the form file:///ABSOLUTE/PATH"},
	{name: "source file root", spec: "model: {family: LLaDA, source: 'file:///'}", wantErr: "spec.model.source must have the form file:///ABSOLUTE/PATH"},
	{name: "source oci uppercase", spec: "model: {family: LLaDA, source: oci://Registry/llada}", wantErr: "spec.model.source must have the form oci://REGISTRY/REPOSITORY"},
	{name: "source parent segment", spec: "model: {family: LLaDA, source: pvc://cache/../secrets}", wantErr: "spec.model.source must not contain . or .. path segments"},
	{name: "source too long", spec: "model: {family: LLaDA, source: hf://a/" + strings.Repeat("b", 520) + "}", wantErr: "spec.model.source: Too long"},
	{name: "dtype unknown", spec: "model: {family: LLaDA, source: hf://a/b, dtype: Int8}", wantErr: "spec.model.dtype: Unsupported value"},
	{name: "token for a pvc source", spec: "model: {family: LLaDA, source: pvc://cache/llada, tokenSecretRef: {name: hf}}", wantErr: "spec.model.tokenSecretRef applies only to hf:// sources"},
	{name: "cache claim for an oci source", spec: "model: {family: LLaDA, source: oci://r.example/m:v1, cacheClaimName: cache}", wantErr: "spec.model.cacheClaimName applies only to hf:// sources"},
	{name: "cache claim not a name", spec: "model: {family: LLaDA, source: hf://a/b, cacheClaimName: Cache_1}", wantErr: "spec.model.cacheClaimName: Invalid value"},
	{name: "token secret without name", spec: "model: {family: LLaDA, source: hf://a/b, tokenSecretRef: {key: t}}", wantErr: "spec.model.tokenSecretRef.name: Required value"},
	{name: "token secret bad key", spec: "model: {family: LLaDA, source: hf://a/b, tokenSecretRef: {name: hf, key: 'a b'}}", wantErr: "spec.model.tokenSecretRef.key: Invalid value"},
	// runtime and gpu
	{name: "backend unknown", spec: validModel + "runtime: {backend: TPU}", wantErr: "spec.runtime.backend: Unsupported value"},
	{name: "CUDA without gpu", spec: validModel + "runtime: {backend: CUDA}", wantErr: "spec.gpu is required when spec.runtime.backend is CUDA"},
	{name: "CPU with gpu", spec: validModel + "runtime: {backend: CPU}\ngpu: {type: H100, count: 1}", wantErr: "spec.gpu must not be set when spec.runtime.backend is CPU"},
	{name: "Float16 on a GPU", spec: "model: {family: LLaDA, source: hf://a/b, dtype: Float16}\ngpu: {type: H100, count: 1}", wantErr: "spec.model.dtype Float16 is not supported on GPUs"},
	{name: "privileged port", spec: validModel + "runtime: {port: 80}", wantErr: "spec.runtime.port: Invalid value"},
	{name: "port too large", spec: validModel + "runtime: {port: 70000}", wantErr: "spec.runtime.port: Invalid value"},
	{name: "batch size zero", spec: validModel + "runtime: {maxBatchSize: 0}", wantErr: "spec.runtime.maxBatchSize: Invalid value"},
	{name: "queue too large", spec: validModel + "runtime: {maxQueue: 20000}", wantErr: "spec.runtime.maxQueue: Invalid value"},
	{name: "image with space", spec: validModel + "runtime: {image: 'dllm runtime'}", wantErr: "spec.runtime.image must not contain whitespace"},
	{name: "image empty", spec: validModel + "runtime: {image: ''}", wantErr: "spec.runtime.image: Invalid value"},
	{name: "gpu in resources limits", spec: validModel + "runtime: {resources: {limits: {nvidia.com/gpu: 1}}}", wantErr: "spec.runtime.resources must not request nvidia.com/gpu"},
	{name: "gpu in resources requests", spec: validModel + "runtime: {resources: {requests: {nvidia.com/gpu: 1}}}", wantErr: "spec.runtime.resources must not request nvidia.com/gpu"},
	{name: "gpu type unknown", spec: validModel + "gpu: {type: TPUv5, count: 1}", wantErr: `spec.gpu.type: Unsupported value: "TPUv5"`},
	{name: "gpu count missing", spec: validModel + "gpu: {type: H100}", wantErr: "spec.gpu.count: Required value"},
	{name: "gpu count zero", spec: validModel + "gpu: {type: H100, count: 0}", wantErr: "spec.gpu.count: Invalid value"},
	{name: "gpu count nine", spec: validModel + "gpu: {type: H100, count: 9}", wantErr: "spec.gpu.count: Invalid value"},
	{name: "gpu count fractional", spec: validModel + "gpu: {type: H100, count: 1.5}", wantErr: "spec.gpu.count"},
	// replicas and autoscaling
	{name: "replicas negative", spec: validModel + "replicas: -1", wantErr: "spec.replicas: Invalid value"},
	{name: "replicas and autoscaling", spec: validModel + "replicas: 2\nautoscaling: {maxReplicas: 4}", wantErr: "spec.replicas and spec.autoscaling are mutually exclusive"},
	{name: "autoscaling max missing", spec: validModel + "autoscaling: {minReplicas: 1}", wantErr: "spec.autoscaling.maxReplicas: Required value"},
	{name: "autoscaling min above max", spec: validModel + "autoscaling: {minReplicas: 5, maxReplicas: 2}", wantErr: "spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas"},
	{name: "autoscaling metric unknown", spec: validModel + "autoscaling: {maxReplicas: 2, metric: CPU}", wantErr: "spec.autoscaling.metric: Unsupported value"},
	{name: "saturation target over 100", spec: validModel + "autoscaling: {maxReplicas: 2, target: 150}", wantErr: "spec.autoscaling.target is a percent from 1 to 100"},
	// generation
	{name: "steps zero", spec: validModel + "generation: {steps: 0}", wantErr: "spec.generation.steps: Invalid value"},
	{name: "genLength too large", spec: validModel + "generation: {genLength: 5000}", wantErr: "spec.generation.genLength: Invalid value"},
	{name: "blockLength does not divide", spec: validModel + "generation: {genLength: 100, blockLength: 30, steps: 100}", wantErr: "spec.generation.blockLength must divide spec.generation.genLength"},
	{name: "blockLength does not divide default genLength", spec: validModel + "generation: {blockLength: 48}", wantErr: "spec.generation.blockLength must divide spec.generation.genLength"},
	{name: "steps not a multiple of blocks", spec: validModel + "generation: {genLength: 128, blockLength: 32, steps: 6}", wantErr: "spec.generation.steps must be a multiple of the number of blocks"},
	{name: "default steps not a multiple of blocks", spec: validModel + "generation: {genLength: 96, blockLength: 32}", wantErr: "spec.generation.steps must be a multiple of the number of blocks"},
	{name: "remasking unknown", spec: validModel + "generation: {remasking: low_confidence}", wantErr: "spec.generation.remasking: Unsupported value"},
	{name: "temperature too high", spec: validModel + "generation: {temperatureMilli: 2500}", wantErr: "spec.generation.temperatureMilli: Invalid value"},
	{name: "temperature as a float", spec: validModel + "generation: {temperatureMilli: 0.7}", wantErr: "spec.generation.temperatureMilli"},
	{name: "parallel threshold zero", spec: validModel + "generation: {parallelThresholdPermille: 0}", wantErr: "spec.generation.parallelThresholdPermille: Invalid value"},
	// cache
	{name: "cache mode unknown", spec: validModel + "cache: {mode: Dynamic}", wantErr: "spec.cache.mode: Unsupported value"},
	// YAML 1.1, which kubectl speaks, reads a bare Off as the boolean false.
	{name: "cache mode Off unquoted", spec: validModel + "cache: {mode: Off}", wantErr: "spec.cache.mode in body must be of type string"},
	{name: "K_p zero", spec: validModel + "cache: {promptRefreshInterval: 0}", wantErr: "spec.cache.promptRefreshInterval: Invalid value"},
	{name: "K_r too large", spec: validModel + "cache: {responseRefreshInterval: 20000}", wantErr: "spec.cache.responseRefreshInterval: Invalid value"},
	{name: "rho over 100", spec: validModel + "cache: {transferPercent: 150}", wantErr: "spec.cache.transferPercent: Invalid value"},
	{name: "rho as a float", spec: validModel + "cache: {transferPercent: 0.25}", wantErr: "spec.cache.transferPercent"},
	{name: "autotune without Autotune mode", spec: validModel + "cache: {mode: Static, autotune: {mode: Apply}}", wantErr: "spec.cache.autotune may be set only when spec.cache.mode is Autotune"},
	{name: "autotune mode unknown", spec: validModel + "cache: {mode: Autotune, autotune: {mode: Auto}}", wantErr: "spec.cache.autotune.mode: Unsupported value"},
	{name: "quality floor too low", spec: validModel + "cache: {mode: Autotune, autotune: {qualityFloorPermille: 400}}", wantErr: "spec.cache.autotune.qualityFloorPermille: Invalid value"},
	{name: "shadow zero", spec: validModel + "cache: {mode: Autotune, autotune: {shadowPercent: 0}}", wantErr: "spec.cache.autotune.shadowPercent: Invalid value"},
	{name: "latency target not a duration", spec: validModel + "cache: {mode: Autotune, autotune: {latencyTarget: fast}}", wantErr: "spec.cache.autotune.latencyTarget must be a duration"},
	{name: "bounds min above max", spec: validModel + "cache: {mode: Autotune, autotune: {bounds: {promptRefreshInterval: {min: 200, max: 50}}}}", wantErr: "spec.cache.autotune.bounds.promptRefreshInterval.min must not exceed max"},
	{name: "bounds interval zero", spec: validModel + "cache: {mode: Autotune, autotune: {bounds: {responseRefreshInterval: {min: 0, max: 5}}}}", wantErr: "spec.cache.autotune.bounds.responseRefreshInterval.min: Invalid value"},
	{name: "bounds percent over 100", spec: validModel + "cache: {mode: Autotune, autotune: {bounds: {transferPercent: {min: 0, max: 101}}}}", wantErr: "spec.cache.autotune.bounds.transferPercent.max: Invalid value"},
	{name: "K_p outside bounds", spec: validModel + "cache: {mode: Autotune, promptRefreshInterval: 300, autotune: {bounds: {promptRefreshInterval: {min: 10, max: 200}}}}", wantErr: "spec.cache.promptRefreshInterval (default 100) must lie within spec.cache.autotune.bounds.promptRefreshInterval"},
	{name: "default K_r outside bounds", spec: validModel + "cache: {mode: Autotune, autotune: {bounds: {responseRefreshInterval: {min: 1, max: 5}}}}", wantErr: "spec.cache.responseRefreshInterval (default 7) must lie within spec.cache.autotune.bounds.responseRefreshInterval"},
	{name: "rho outside bounds", spec: validModel + "cache: {mode: Autotune, transferPercent: 60, autotune: {bounds: {transferPercent: {min: 0, max: 50}}}}", wantErr: "spec.cache.transferPercent (default 25) must lie within spec.cache.autotune.bounds.transferPercent"},
	// metadata
	{name: "name with a dot", objName: "llada.8b", spec: validModel, wantErr: "metadata.name must be a lowercase RFC 1035 label of at most 52 characters"},
	{name: "name too long", objName: "l" + strings.Repeat("a", 52), spec: validModel, wantErr: "metadata.name must be a lowercase RFC 1035 label of at most 52 characters"},
	{name: "name starting with a digit", objName: "8b-llada", spec: validModel, wantErr: "metadata.name must be a lowercase RFC 1035 label"},
	// strict decoding, as kubectl apply does it
	{name: "unknown field", spec: "model: {family: LLaDA, source: hf://a/b, familly: Dream}", wantErr: `unknown field "spec.model.familly"`},
}

// validCases must be accepted: the rules must not reject what they are meant to allow.
var validCases = []validationCase{
	{name: "minimal", spec: validModel},
	{name: "cpu explicit", spec: validModel + "runtime: {backend: CPU, port: 8080, maxBatchSize: 1, maxQueue: 1}"},
	{name: "Float16 on the CPU", spec: "model: {family: LLaDA, source: hf://a/b, dtype: Float16}"},
	{name: "Float32 on a GPU", spec: "model: {family: LLaDA, source: hf://a/b, dtype: Float32}\ngpu: {type: H100, count: 1}"},
	{name: "every source form", spec: "model: {family: Dream, source: 'oci://registry.example:5000/models/dream:v1@sha256:" + strings.Repeat("a", 64) + "'}"},
	{name: "pvc with path", spec: "model: {family: LLaDA, source: pvc://model-cache/GSAI-ML/LLaDA-8B-Instruct}"},
	{name: "file", spec: "model: {family: LLaDA, source: file:///opt/models/llada}"},
	{name: "hf revision with slash", spec: "model: {family: LLaDA, source: hf://GSAI-ML/LLaDA-8B-Instruct@refs/pr/1}"},
	{name: "hf with token and cache claim", spec: "model: {family: LLaDA, source: hf://org/private, tokenSecretRef: {name: hf-token}, cacheClaimName: model-cache}"},
	{name: "LLaDA demo sampler", spec: validModel + "generation: {steps: 256, genLength: 256, blockLength: 8, remasking: Random, temperatureMilli: 0}"},
	{name: "one block", spec: validModel + "generation: {genLength: 96, blockLength: 96, steps: 96}"},
	{name: "autoscaling defaults", spec: validModel + "autoscaling: {maxReplicas: 3}"},
	{name: "queue depth target above 100", spec: validModel + "autoscaling: {maxReplicas: 3, metric: PendingSteps, target: 5000}"},
	{name: "cache off", spec: validModel + "cache: {mode: 'Off'}"},
	{name: "exact cache", spec: validModel + "cache: {promptRefreshInterval: 1, responseRefreshInterval: 1, transferPercent: 0}"},
	{name: "autotune bounds around defaults", spec: validModel + "cache: {mode: Autotune, autotune: {latencyTarget: 1m30s, bounds: {promptRefreshInterval: {min: 100, max: 100}, responseRefreshInterval: {min: 2, max: 7}, transferPercent: {min: 25, max: 25}}}}"},
	{name: "name at the limit", objName: "l" + strings.Repeat("a", 51), spec: validModel},
}

func TestValidation(t *testing.T) {
	ns := newNamespace(t)
	if len(invalidCases) < 30 {
		t.Fatalf("%d invalid-manifest cases, want at least 30", len(invalidCases))
	}
	run := func(cases []validationCase) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				name := tc.objName
				if name == "" {
					name = fmt.Sprintf("case-%d", i)
				}
				err := createManifest(t, ns, name, tc.spec)
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("create rejected a valid manifest: %v", err)
				case tc.wantErr != "" && err == nil:
					t.Fatalf("create accepted an invalid manifest, want an error containing %q", tc.wantErr)
				case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
					t.Fatalf("create error = %q, want it to contain %q", err, tc.wantErr)
				}
			})
		}
	}
	run(invalidCases)
	run(validCases)
}

// createManifest creates a DLLMService from a spec written in YAML, decoding strictly on the
// server as `kubectl apply` does.
func createManifest(t *testing.T, ns, name, spec string) error {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{}}
	var specObj map[string]any
	if err := yaml.Unmarshal([]byte(spec), &specObj); err != nil {
		t.Fatalf("test manifest does not parse: %v", err)
	}
	u.SetAPIVersion("serving.dllm.dev/v1alpha1")
	u.SetKind("DLLMService")
	u.SetNamespace(ns)
	u.SetName(name)
	u.Object["spec"] = specObj
	return k8s.Create(t.Context(), u, client.FieldValidation("Strict"))
}

// TestSamplesAreValid checks that every manifest in config/samples is accepted.
func TestSamplesAreValid(t *testing.T) {
	ns := newNamespace(t)
	entries, err := os.ReadDir("../../config/samples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile("../../config/samples/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		u.SetNamespace(ns)
		if err := k8s.Create(t.Context(), u, client.FieldValidation("Strict")); err != nil {
			t.Errorf("sample %s rejected: %v", e.Name(), err)
		}
	}
}
