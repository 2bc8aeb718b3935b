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

package gitops

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"dllm.dev/dllm-operator/api/v1alpha1"
)

const (
	healthFile  = "../../config/gitops/argocd/health.lua"
	patchFile   = "../../config/gitops/argocd/argocd-cm-patch.yaml"
	fluxFile    = "../../config/gitops/flux/dllmservices.yaml"
	waitMessage = "Waiting for the operator to observe the latest spec"
)

// healthKey is the argocd-cm key of a custom health check: group_Kind.
var healthKey = "resource.customizations.health." + v1alpha1.GroupVersion.Group + "_DLLMService"

// health is what a health check returns, as Argo CD reads it.
type health struct {
	status, message string
}

// argoStatuses are the health statuses Argo CD accepts from a script; any other reads Unknown.
var argoStatuses = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

// runHealth runs script on obj as Argo CD's custom health checks run: a state without the
// standard libraries but package, base and table (Argo CD adds a restricted os, which the
// script does not use), a one-second deadline, obj as the global obj, and the returned table.
func runHealth(t *testing.T, script string, obj *unstructured.Unstructured) health {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned a %s, want a table", l.Get(-1).Type())
	}
	h := health{status: lua.LVAsString(ret.RawGetString("status")), message: lua.LVAsString(ret.RawGetString("message"))}
	if !argoStatuses[h.status] {
		t.Errorf("health.lua returned status %q, which Argo CD reads as Unknown", h.status)
	}
	return h
}

// toLua converts an unstructured object's value to Lua as Argo CD does (its decodeValue):
// maps to tables, slices to arrays, numbers to numbers.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// readObject reads a testdata DLLMService as Argo CD holds it (unstructured), after checking
// that it decodes strictly into the API type.
func readObject(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var typed v1alpha1.DLLMService
	if err := yaml.UnmarshalStrict(raw, &typed); err != nil {
		t.Fatalf("%s is not a DLLMService: %v", name, err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestHealth(t *testing.T) {
	script, err := os.ReadFile(healthFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		want health
	}{
		{name: "new object without status", file: "new.yaml", want: health{"Progressing", waitMessage}},
		{name: "empty status", file: "empty-status.yaml", want: health{"Progressing", waitMessage}},
		{name: "observedGeneration behind", file: "generation-behind.yaml", want: health{"Progressing", waitMessage}},
		{name: "degraded at an older generation", file: "stale-degraded.yaml", want: health{"Progressing", waitMessage}},
		{name: "ready", file: "ready.yaml", want: health{"Healthy", "Available: 2 of 2 desired replicas updated, 2 available, 2 ready."}},
		{name: "tuned", file: "tuned.yaml", want: health{"Healthy", "Available: 1 of 1 desired replicas updated, 1 available, 1 ready."}},
		{name: "degraded with message", file: "pull-failed.yaml", want: health{"Degraded",
			"PullFailed: Pulling the weights failed in Pod llada-8b-instruct-6c8d9f7b5-x2kqp (exit code 1, 3 restarts): resolve revision main: 401 Unauthorized"}},
		{name: "apply failed holds observedGeneration back", file: "apply-failed.yaml", want: health{"Degraded",
			"ApplyFailed: spec.autoscaling.keda: KEDA is not installed in this cluster (no ScaledObject kind)"}},
		{name: "scaled to zero", file: "scaled-to-zero.yaml", want: health{"Suspended", "ScaledToZero: Zero replicas are desired."}},
		{name: "quality degraded", file: "quality-degraded.yaml", want: health{"Degraded",
			"BelowFloor: K_p=25 K_r=2 rho=50%: agreement upper bound 0.961 below the floor 0.980 (52 samples); no safer settings within bounds; keeping K_p=25 K_r=2 rho=50%"}},
		{name: "rollout in progress", file: "rollout.yaml", want: health{"Progressing",
			"Loading: Pod llada-8b-instruct-7f4b9c6d8-q9zvm is loading the weights and warming up. 1 of 2 desired replicas updated, 2 available, 2 ready."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runHealth(t, string(script), readObject(t, tc.file)); got != tc.want {
				t.Errorf("health.lua(%s) = %+v, want %+v", tc.file, got, tc.want)
			}
		})
	}
}

// The argocd-cm patch carries health.lua unchanged, under the key Argo CD looks up for
// DLLMServices.
func TestArgoCDConfigMapPatch(t *testing.T) {
	script, err := os.ReadFile(healthFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(patchFile)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		APIVersion string                `json:"apiVersion"`
		Kind       string                `json:"kind"`
		Metadata   struct{ Name string } `json:"metadata"`
		Data       map[string]string     `json:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Name != "argocd-cm" {
		t.Errorf("%s %s %s, want the v1 ConfigMap argocd-cm", cm.APIVersion, cm.Kind, cm.Metadata.Name)
	}
	got, ok := cm.Data[healthKey]
	if !ok {
		t.Fatalf("%s has no data key %s (keys %v)", patchFile, healthKey, cm.Data)
	}
	if !bytes.Equal([]byte(got), script) {
		t.Errorf("the script in %s differs from %s (-health.lua +patch):\n%s", patchFile, healthFile, cmp.Diff(string(script), got))
	}
}

// The Flux example applies a folder with health checks on, from a GitRepository of the same
// name.
func TestFluxExample(t *testing.T) {
	raw, err := os.ReadFile(fluxFile)
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			URL       string `json:"url"`
			Path      string `json:"path"`
			Wait      bool   `json:"wait"`
			Prune     bool   `json:"prune"`
			SourceRef struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"sourceRef"`
		} `json:"spec"`
	}
	byKind := map[string]object{}
	for doc := range strings.SplitSeq(string(raw), "\n---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		byKind[o.APIVersion+" "+o.Kind] = o
	}
	src, ok := byKind["source.toolkit.fluxcd.io/v1 GitRepository"]
	if !ok || src.Spec.URL == "" {
		t.Fatalf("no source.toolkit.fluxcd.io/v1 GitRepository with a url in %s", fluxFile)
	}
	ks, ok := byKind["kustomize.toolkit.fluxcd.io/v1 Kustomization"]
	if !ok {
		t.Fatalf("no kustomize.toolkit.fluxcd.io/v1 Kustomization in %s", fluxFile)
	}
	if !ks.Spec.Wait || ks.Spec.Path == "" || ks.Spec.SourceRef.Kind != "GitRepository" || ks.Spec.SourceRef.Name != src.Metadata.Name {
		t.Errorf("Kustomization spec %+v: want wait, a path and the GitRepository %s as its source", ks.Spec, src.Metadata.Name)
	}
}
