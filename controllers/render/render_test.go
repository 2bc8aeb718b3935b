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

package render

import (
	"bytes"
	"flag"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testImage = "registry.example/dllm-runtime:v0.1.0"

// dllmService builds a DLLMService for tests: a minimal valid object changed by mods.
func dllmService(name string, mods ...func(*v1alpha1.DLLMService)) *v1alpha1.DLLMService {
	svc := &v1alpha1.DLLMService{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", UID: "00000000-0000-0000-0000-000000000001", Generation: 1},
		Spec: v1alpha1.DLLMServiceSpec{
			Model: v1alpha1.ModelSpec{Family: v1alpha1.ModelFamilyLLaDA, Source: "file:///models/llada-tiny"},
		},
	}
	for _, m := range mods {
		m(svc)
	}
	return svc
}

func withSource(s string) func(*v1alpha1.DLLMService) {
	return func(svc *v1alpha1.DLLMService) { svc.Spec.Model.Source = s }
}

func withGPU(t v1alpha1.GPUType, n int32) func(*v1alpha1.DLLMService) {
	return func(svc *v1alpha1.DLLMService) { svc.Spec.GPU = &v1alpha1.GPUSpec{Type: t, Count: n} }
}

func withCache(c v1alpha1.CacheSpec) func(*v1alpha1.DLLMService) {
	return func(svc *v1alpha1.DLLMService) { svc.Spec.Cache = c }
}

func withAutoscaling(a v1alpha1.AutoscalingSpec) func(*v1alpha1.DLLMService) {
	return func(svc *v1alpha1.DLLMService) { svc.Spec.Autoscaling = &a }
}

// goldenCases cover each model source scheme, both backends, each autoscaling metric and each
// cache mode.
var goldenCases = []struct {
	name string
	svc  *v1alpha1.DLLMService
}{
	{name: "cpu-file-defaults", svc: dllmService("tiny")},
	{name: "cuda-pvc-static", svc: dllmService("llada-8b",
		withSource("pvc://model-cache/GSAI-ML/LLaDA-8B-Instruct"),
		withGPU(v1alpha1.GPUTypeH100, 2),
		withCache(v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeStatic, PromptRefreshInterval: 50, ResponseRefreshInterval: 5, TransferPercent: ptr.To[int32](0)}),
		func(svc *v1alpha1.DLLMService) {
			svc.Spec.Replicas = ptr.To[int32](3)
			svc.Spec.Model.DType = v1alpha1.DTypeFloat16
			svc.Spec.Runtime = v1alpha1.RuntimeSpec{
				Image: "registry.example/dllm-runtime-cuda:v0.1.0", Port: 9000, MaxBatchSize: 16, MaxQueue: 256,
				Resources: &corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("64Gi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Gi")},
				},
			}
			svc.Spec.Generation = v1alpha1.GenerationSpec{Steps: 256, GenLength: 256, BlockLength: 8, Remasking: v1alpha1.RemaskingLowConfidence, TemperatureMilli: ptr.To[int32](0)}
		})},
	{name: "cuda-hf-autotune-queuedepth", svc: dllmService("llada-chat",
		withSource("hf://GSAI-ML/LLaDA-8B-Instruct@main"),
		func(svc *v1alpha1.DLLMService) {
			svc.Spec.Model.TokenSecretRef = &v1alpha1.SecretKeyRef{Name: "hf-token"}
			svc.Spec.Model.CacheClaimName = "model-cache"
		},
		withGPU(v1alpha1.GPUTypeL40S, 1),
		withAutoscaling(v1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 10, Metric: v1alpha1.AutoscalingMetricQueueDepth, Target: 6}),
		withCache(v1alpha1.CacheSpec{
			Mode: v1alpha1.CacheModeAutotune,
			Autotune: &v1alpha1.AutotuneSpec{
				Mode: v1alpha1.AutotuneModeApply, ShadowPercent: 10,
				Bounds: v1alpha1.AutotuneBounds{ResponseRefreshInterval: &v1alpha1.IntervalRange{Min: 2, Max: 20}},
			},
		}))},
	{name: "cpu-file-keda-saturation", svc: dllmService("tiny",
		withAutoscaling(v1alpha1.AutoscalingSpec{MaxReplicas: 5, Target: 70,
			KEDA: &v1alpha1.KEDASpec{PrometheusAddress: "http://prometheus-operated.monitoring.svc:9090"}}))},
	{name: "dream-oci-cache-off-saturation", svc: dllmService("dream",
		withSource("oci://registry.example/models/dream-v0-7b:v1"),
		withGPU(v1alpha1.GPUTypeA100_80G, 1),
		withAutoscaling(v1alpha1.AutoscalingSpec{MaxReplicas: 4}),
		withCache(v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeOff}),
		func(svc *v1alpha1.DLLMService) {
			svc.Spec.Model.Family = v1alpha1.ModelFamilyDream
			svc.Spec.Generation = v1alpha1.GenerationSpec{Remasking: v1alpha1.RemaskingEntropy, TemperatureMilli: ptr.To[int32](200), ParallelThresholdPermille: 900}
		})},
}

func TestAllGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := All(tc.svc, Options{RuntimeImage: testImage})
			if err != nil {
				t.Fatalf("All() error: %v", err)
			}
			children := []any{objs.ConfigMap, objs.Deployment, objs.Service}
			if objs.Autoscaler != nil {
				children = append(children, objs.Autoscaler)
			}
			if objs.ScaledObject != nil {
				children = append(children, objs.ScaledObject.Object)
			}
			var docs [][]byte
			for _, obj := range children {
				doc, err := yaml.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, doc)
			}
			got := bytes.Join(docs, []byte("---\n"))
			golden := filepath.Join("testdata", tc.name+".yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (regenerate with -update): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("rendered objects differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestRuntimeConfigValid checks that every rendered configuration passes the runtime's own
// validation, defaults included.
func TestRuntimeConfigValid(t *testing.T) {
	for _, tc := range goldenCases {
		loc, err := modelLocation(tc.svc.Spec.Model.Source, tc.svc.Spec.Model.CacheClaimName)
		if err != nil {
			t.Fatalf("%s: modelLocation: %v", tc.name, err)
		}
		cfg := RuntimeConfig(tc.svc, loc.dir)
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: rendered config is invalid: %v", tc.name, err)
		}
	}
}

func TestAllErrors(t *testing.T) {
	tests := []struct {
		name    string
		svc     *v1alpha1.DLLMService
		opts    Options
		wantErr string
	}{
		{"no image", dllmService("x"), Options{}, "spec.runtime.image"},
		{"unknown scheme", dllmService("x", withSource("s3://bucket/model")), Options{RuntimeImage: testImage}, "spec.model.source"},
		{"no scheme", dllmService("x", withSource("/models/x")), Options{RuntimeImage: testImage}, "spec.model.source"},
		{"parent segment", dllmService("x", withSource("pvc://claim/../../etc")), Options{RuntimeImage: testImage}, "spec.model.source"},
		{"unknown gpu", dllmService("x", withGPU("TPUv5", 1)), Options{RuntimeImage: testImage}, "spec.gpu.type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := All(tc.svc, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("All() error = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestModelLocation(t *testing.T) {
	tests := []struct {
		source, claim, wantDir string
		wantVolume             bool
		wantReadOnly, wantPull bool
	}{
		{"hf://GSAI-ML/LLaDA-8B-Instruct@v1.0", "", "/models/hf/GSAI-ML/LLaDA-8B-Instruct/v1.0", true, true, true},
		{"hf://GSAI-ML/LLaDA-8B-Instruct", "model-cache", "/models/hf/GSAI-ML/LLaDA-8B-Instruct/main", true, true, true},
		{"hf://org/name@refs/pr/2", "", "/models/hf/org/name/refs/pr/2", true, true, true},
		{"pvc://cache", "", "/models", true, true, false},
		{"pvc://cache/org/name/", "", "/models/org/name", true, true, false},
		{"file:///opt/models/x/", "", "/opt/models/x", false, false, false},
		{"oci://registry.example/m:v1", "", "/models", true, true, false},
	}
	for _, tc := range tests {
		loc, err := modelLocation(tc.source, tc.claim)
		if err != nil {
			t.Errorf("modelLocation(%q) error: %v", tc.source, err)
			continue
		}
		if loc.dir != tc.wantDir || (loc.volume != nil) != tc.wantVolume || loc.readOnly != tc.wantReadOnly || loc.pull != tc.wantPull {
			t.Errorf("modelLocation(%q) = dir %q, volume %t, readOnly %t, pull %t; want %q, %t, %t, %t",
				tc.source, loc.dir, loc.volume != nil, loc.readOnly, loc.pull, tc.wantDir, tc.wantVolume, tc.wantReadOnly, tc.wantPull)
		}
		if claim := tc.claim; claim != "" && (loc.volume.PersistentVolumeClaim == nil || *loc.volume.PersistentVolumeClaim.ClaimName != claim) {
			t.Errorf("modelLocation(%q, %q): volume %+v, want the claim", tc.source, claim, loc.volume)
		}
	}
}

func TestConfigHashIgnoresCache(t *testing.T) {
	hashOf := func(svc *v1alpha1.DLLMService) string {
		t.Helper()
		objs, err := All(svc, Options{RuntimeImage: testImage})
		if err != nil {
			t.Fatal(err)
		}
		return objs.Deployment.Spec.Template.Annotations[AnnotationConfigHash]
	}
	base := hashOf(dllmService("x"))
	if got := hashOf(dllmService("x", withCache(v1alpha1.CacheSpec{PromptRefreshInterval: 20, ResponseRefreshInterval: 3}))); got != base {
		t.Errorf("config hash changed with cache settings: %s -> %s; cache updates must not restart Pods", base, got)
	}
	if got := hashOf(dllmService("x", func(s *v1alpha1.DLLMService) { s.Spec.Generation.Steps = 64 })); got == base {
		t.Errorf("config hash %s unchanged after a sampler change; Pods would keep the old config", got)
	}
}

// The tuner's settings reach the runtime configuration in Apply mode only, never the config
// hash (running Pods take them live), and a tuned service's Pods mount the admin token.
func TestTunedSettings(t *testing.T) {
	tuned := &v1alpha1.CacheSettings{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: 150, ResponseRefreshInterval: 9, TransferPercent: ptr.To[int32](15)}
	render := func(mode v1alpha1.AutotuneMode, t2 *v1alpha1.CacheSettings) (contract.Config, *Objects) {
		t.Helper()
		svc := dllmService("x", withCache(v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeAutotune, Autotune: &v1alpha1.AutotuneSpec{Mode: mode}}))
		objs, err := All(svc, Options{RuntimeImage: testImage, Tuned: t2})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := contract.Parse(strings.NewReader(objs.ConfigMap.Data[contract.ConfigFileName]))
		if err != nil {
			t.Fatal(err)
		}
		return *cfg, objs
	}
	applied, objs := render(v1alpha1.AutotuneModeApply, tuned)
	if c := applied.Cache; c.PromptRefreshInterval != 150 || c.ResponseRefreshInterval != 9 || c.TransferPercent != 15 {
		t.Errorf("Apply mode: config cache %+v, want the tuned 150/9/15", c)
	}
	_, untuned := render(v1alpha1.AutotuneModeApply, nil)
	if a, b := objs.Deployment.Spec.Template.Annotations[AnnotationConfigHash], untuned.Deployment.Spec.Template.Annotations[AnnotationConfigHash]; a != b {
		t.Errorf("tuned settings changed the config hash (%s vs %s): Pods would restart", a, b)
	}
	if recommended, _ := render(v1alpha1.AutotuneModeRecommend, tuned); recommended.Cache.ResponseRefreshInterval != 7 {
		t.Errorf("Recommend mode: config cache %+v, want the spec's settings", recommended.Cache)
	}
	mounted := false
	for _, m := range objs.Deployment.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || *m.MountPath == path.Dir(contract.AdminTokenPath)
	}
	if !mounted {
		t.Errorf("a tuned service's runtime does not mount its admin token at %s", contract.AdminTokenPath)
	}
}

func TestCacheSettings(t *testing.T) {
	tests := []struct {
		name string
		spec v1alpha1.CacheSpec
		want v1alpha1.CacheSettings
	}{
		{"defaults", v1alpha1.CacheSpec{}, v1alpha1.CacheSettings{Mode: v1alpha1.CacheModeStatic, PromptRefreshInterval: 100, ResponseRefreshInterval: 7, TransferPercent: ptr.To[int32](25)}},
		{"off", v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeOff, PromptRefreshInterval: 5}, v1alpha1.CacheSettings{Mode: v1alpha1.CacheModeOff}},
		{"explicit zero rho", v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: 1, ResponseRefreshInterval: 1, TransferPercent: ptr.To[int32](0)},
			v1alpha1.CacheSettings{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: 1, ResponseRefreshInterval: 1, TransferPercent: ptr.To[int32](0)}},
	}
	for _, tc := range tests {
		got := CacheSettings(dllmService("x", withCache(tc.spec)))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: CacheSettings mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestGPUTableCoversAPI checks that the GPU mapping table has an entry for every GPU type the
// CRD's schema allows, so no valid spec renders without a node selector.
func TestGPUTableCoversAPI(t *testing.T) {
	data, err := os.ReadFile("../../config/crd/bases/serving.dllm.dev_dllmservices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	gpuType := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["gpu"].Properties["type"]
	inSchema := make([]string, 0, len(gpuType.Enum))
	for _, e := range gpuType.Enum {
		inSchema = append(inSchema, strings.Trim(string(e.Raw), `"`))
	}
	inTable := make([]string, 0, len(gpuProducts))
	for k := range gpuProducts {
		inTable = append(inTable, string(k))
	}
	slices.Sort(inSchema)
	slices.Sort(inTable)
	if diff := cmp.Diff(inSchema, inTable); diff != "" {
		t.Errorf("GPU types in the CRD schema and in gpuProducts differ (-schema +table):\n%s", diff)
	}
}

// FuzzModelLocation checks that no model source, however malformed, panics or maps to a folder
// outside a clean absolute path.
func FuzzModelLocation(f *testing.F) {
	for _, s := range []string{"hf://org/name@rev", "pvc://claim/a/b", "file:///m", "oci://r/x:1", "pvc://c/../x", "hf://", "://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, source string) {
		loc, err := modelLocation(source, "")
		if err != nil {
			if !strings.Contains(err.Error(), "spec.model.source") {
				t.Fatalf("modelLocation(%q) error %q does not name spec.model.source", source, err)
			}
			return
		}
		if !filepath.IsAbs(loc.dir) || filepath.Clean(loc.dir) != loc.dir {
			t.Fatalf("modelLocation(%q) = dir %q, want a clean absolute path", source, loc.dir)
		}
		// A mounted volume's folder must stay inside the mount.
		if loc.volume != nil && loc.dir != contract.ModelsDir && !strings.HasPrefix(loc.dir, contract.ModelsDir+"/") {
			t.Fatalf("modelLocation(%q) = dir %q, outside the volume mounted at %s", source, loc.dir, contract.ModelsDir)
		}
	})
}

// The prometheus-adapter rules shipped in config/ serve every metric an HPA can be rendered
// with, under the name the HPA asks for.
func TestPrometheusAdapterRulesServeEveryHPAMetric(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus-adapter", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Rules []struct {
			SeriesQuery string `json:"seriesQuery"`
			Resources   struct {
				Overrides map[string]struct {
					Resource string `json:"resource"`
				} `json:"overrides"`
			} `json:"resources"`
			Name struct {
				Matches string `json:"matches"`
				As      string `json:"as"`
			} `json:"name"`
			MetricsQuery string `json:"metricsQuery"`
		} `json:"rules"`
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	served := map[string]bool{}
	for _, r := range cfg.Rules {
		if !strings.HasPrefix(r.SeriesQuery, r.Name.As+"{") {
			t.Errorf("rule %q reads %q: the served name must be the runtime's", r.Name.As, r.SeriesQuery)
		}
		if r.Resources.Overrides["pod"].Resource != "pod" || r.Resources.Overrides["namespace"].Resource != "namespace" {
			t.Errorf("rule %q does not map the pod and namespace labels: a Pods metric needs both", r.Name.As)
		}
		served[r.Name.As] = true
	}
	for _, m := range []v1alpha1.AutoscalingMetric{v1alpha1.AutoscalingMetricSaturation, v1alpha1.AutoscalingMetricQueueDepth, v1alpha1.AutoscalingMetricPendingSteps} {
		objs, err := All(dllmService("x", withAutoscaling(v1alpha1.AutoscalingSpec{MaxReplicas: 3, Metric: m})), Options{RuntimeImage: testImage})
		if err != nil {
			t.Fatal(err)
		}
		name := *objs.Autoscaler.Spec.Metrics[0].Pods.Metric.Name
		if !served[name] {
			t.Errorf("metric %s: the HPA asks for %s, which no adapter rule serves", m, name)
		}
	}
}
