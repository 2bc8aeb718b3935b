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

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"dllm.dev/dllm-operator/api/v1alpha1"
)

// The chart's release: the names the kustomize tree (config/default) uses too.
const (
	chartRelease   = "dllm-operator"
	chartNamespace = "dllm-operator-system"
	chartSA        = "system:serviceaccount:dllm-operator-system:dllm-operator-controller-manager"
	gitopsManager  = "gitops"
)

// The manifest a GitOps tool keeps applying: the shipped tiny model, tuned in Apply mode.
const gitopsManifest = `apiVersion: serving.dllm.dev/v1alpha1
kind: DLLMService
metadata:
  name: tiny-gitops
  namespace: default
spec:
  model:
    family: LLaDA
    source: file://MODEL_DIR
  runtime:
    backend: CPU
  generation:
    steps: 16
    genLength: 16
    blockLength: 16
  cache:
    mode: Autotune
    promptRefreshInterval: 1
    responseRefreshInterval: 1
    transferPercent: 50
    autotune:
      mode: Apply
      qualityFloorPermille: 900
      shadowPercent: 50
`

// TestHelmInstallAndNoDrift installs the operator with the Helm chart (helm built from the Go
// module proxy) into the local cluster, runs the manager with exactly the chart's RBAC (as the
// chart's ServiceAccount), and plays a GitOps tool: it server-side applies a DLLMService
// manifest, lets the controller and the tuner run while the pod serves requests, applies the
// same manifest again, and finds no drift: no conflict, the generation and spec unchanged, and
// every field the operator wrote is in status.
//
// The chart's manager Deployment is installed with zero replicas: the process node gives pods no
// ServiceAccount token, so the manager runs in this test process instead, impersonating the
// ServiceAccount, which exercises the same RBAC.
func TestHelmInstallAndNoDrift(t *testing.T) {
	e := setup(t)
	ctx, root, dir, c, cs := e.ctx, e.root, e.dir, e.cluster, e.cs
	helmBin := e.build(t, "helm", "-modfile=hack/helm/go.mod", "helm.sh/helm/v3/cmd/helm")

	helm := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, helmBin, append(args, "--kubeconfig", c.Kubeconfig)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "helm-cache"),
			"HELM_CONFIG_HOME="+filepath.Join(dir, "helm-config"), "HELM_DATA_HOME="+filepath.Join(dir, "helm-data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := helm("install", chartRelease, "charts/dllm-operator", "--namespace", chartNamespace, "--create-namespace",
		"--set", "manager.replicas=0", "--set", "runtime.image=dllm-runtime:latest", "--wait", "--timeout", "2m")
	if !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm install:\n%s", out)
	}
	if status := helm("status", chartRelease, "--namespace", chartNamespace); !strings.Contains(status, "STATUS: deployed") {
		t.Fatalf("helm status:\n%s", status)
	}

	scheme := e.scheme
	// The manager as the chart's ServiceAccount: every request is authorised by the chart's RBAC.
	asSA := rest.CopyConfig(c.Config)
	asSA.Impersonate = rest.ImpersonationConfig{UserName: chartSA}
	e.startManager(t, asSA, "dllm-runtime:latest", func(o *ctrl.Options) {
		o.LeaderElection, o.LeaderElectionID, o.LeaderElectionNamespace = true, "dllm-operator.serving.dllm.dev", chartNamespace
	})

	admin, err := client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	manifest := strings.ReplaceAll(gitopsManifest, "MODEL_DIR", filepath.Join(root, "models", "tiny-tasks"))
	apply := func() *unstructured.Unstructured {
		t.Helper()
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
			t.Fatal(err)
		}
		// What Argo CD and Flux do: server-side apply under their own field manager, without
		// forcing conflicts, so a field someone else owns would fail the apply.
		if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(gitopsManager)); err != nil {
			t.Fatalf("server-side apply: %v", err)
		}
		return obj
	}
	first := apply()
	key := types.NamespacedName{Namespace: "default", Name: "tiny-gitops"}
	get := func() *v1alpha1.DLLMService {
		t.Helper()
		s := &v1alpha1.DLLMService{}
		if err := admin.Get(ctx, key, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		s := get()
		return s.Status.ObservedGeneration == s.Generation && meta(s, v1alpha1.ConditionReady) == metav1.ConditionTrue, nil
	}); err != nil {
		data, _ := json.MarshalIndent(get().Status, "", "  ")
		t.Fatalf("the chart's operator did not make the service Ready: %v\n%s", err, data)
	}
	before := get()

	// The controller and the tuner run: requests flow, the tuner observes windows and writes
	// status.
	load := startLoad(ctx, t, admin, "tiny-gitops")
	if err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(context.Context) (bool, error) {
		a := get().Status.Cache.Autotune
		return a != nil && a.Observed != nil && load.served() > 0, nil
	}); err != nil {
		t.Fatalf("the tuner observed no window: %v", err)
	}
	load.stop()
	if n := load.failures(); n > 0 {
		t.Errorf("%d requests failed: %v", n, load.firstError())
	}

	second := apply()
	after := get()
	if after.Generation != before.Generation {
		t.Errorf("generation %d after re-applying the same manifest, %d before: the spec drifted", after.Generation, before.Generation)
	}
	if !reflect.DeepEqual(after.Spec, before.Spec) {
		t.Errorf("spec changed:\nbefore %+v\nafter  %+v", before.Spec, after.Spec)
	}
	if !reflect.DeepEqual(first.Object["spec"], second.Object["spec"]) {
		t.Errorf("the server's answer to the same apply differs:\nfirst  %v\nsecond %v", first.Object["spec"], second.Object["spec"])
	}
	// Every field of the object another manager wrote is status (the operator's) or metadata the
	// API server keeps; none is spec.
	for _, mf := range after.ManagedFields {
		if mf.Manager == gitopsManager {
			continue
		}
		if mf.Subresource != "status" && mf.FieldsV1 != nil && strings.Contains(mf.FieldsV1.GetRawString(), `"f:spec"`) {
			t.Errorf("manager %s (%s) owns spec fields: %s", mf.Manager, mf.Operation, mf.FieldsV1.GetRawString())
		}
	}
	// The leader election's events were allowed (the chart's Role grants them).
	events, err := cs.CoreV1().Events(chartNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	elected := false
	for _, e := range events.Items {
		elected = elected || (e.Reason == "LeaderElection" && strings.Contains(e.Message, "became leader"))
	}
	if !elected {
		t.Errorf("no LeaderElection event in %s: the manager could not record it", chartNamespace)
	}
	t.Logf("helm release %s, tuner phase %s after %d requests; spec generation %d unchanged",
		chartRelease, after.Status.Cache.Autotune.Phase, load.served(), after.Generation)
}

// meta returns the status of condition typ of s.
func meta(s *v1alpha1.DLLMService, typ string) metav1.ConditionStatus {
	for _, c := range s.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return metav1.ConditionUnknown
}
