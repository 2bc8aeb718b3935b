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

package chart

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// kubeVersion is the cluster version templates render for (the chart needs 1.30 or later).
const kubeVersion = "1.37.0"

var (
	helmOnce sync.Once
	helmBin  string
	helmErr  error
	helmOut  []byte
)

// TestMain removes the Helm binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if helmBin != "" {
		_ = os.RemoveAll(filepath.Dir(helmBin))
	}
	os.Exit(code)
}

// root is the repository root.
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// helm runs the pinned Helm in the repository root and returns its output; it fails the test
// unless the exit status matches wantOK.
func helm(t *testing.T, wantOK bool, args ...string) string {
	t.Helper()
	r := root(t)
	helmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "helm")
		if err != nil {
			helmErr = err
			return
		}
		helmBin = filepath.Join(dir, "helm")
		cmd := exec.Command("go", "build", "-modfile=hack/helm/go.mod", "-o", helmBin, "helm.sh/helm/v3/cmd/helm")
		cmd.Dir = r
		helmOut, helmErr = cmd.CombinedOutput()
	})
	if helmErr != nil {
		t.Fatalf("build helm: %v\n%s", helmErr, helmOut)
	}
	cmd := exec.Command(helmBin, args...)
	cmd.Dir = r
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	out, err := cmd.CombinedOutput()
	if (err == nil) != wantOK {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// template renders the chart as release dllm-operator in dllm-operator-system with extra args.
func template(t *testing.T, extra ...string) string {
	t.Helper()
	return helm(t, true, append([]string{"template", "dllm-operator", "charts/dllm-operator",
		"--namespace", "dllm-operator-system", "--kube-version", kubeVersion}, extra...)...)
}

func TestLint(t *testing.T) {
	for _, values := range []string{"", "test/chart/testdata/everything.values.yaml"} {
		args := []string{"lint", "--strict", "--kube-version", kubeVersion, "charts/dllm-operator"}
		if values != "" {
			args = append(args, "--values", values)
		}
		if out := helm(t, true, args...); !strings.Contains(out, "0 chart(s) failed") {
			t.Errorf("helm %s:\n%s", strings.Join(args, " "), out)
		}
	}
}

// The rendered manifests for the value sets users choose, against testdata/*.golden.yaml.
func TestTemplateGolden(t *testing.T) {
	for _, c := range []struct{ name, values string }{
		{"default", ""},
		{"everything", "test/chart/testdata/everything.values.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var args []string
			if c.values != "" {
				args = append(args, "--values", c.values)
			}
			got := template(t, args...)
			path := filepath.Join("testdata", c.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("helm template differs from %s (run go test ./test/chart/ -update after checking the change; -want +got):\n%s",
					path, cmp.Diff(string(want), got))
			}
		})
	}
}

// Values the schema refuses are refused with the path of the offending value.
func TestValuesSchema(t *testing.T) {
	for _, c := range []struct{ set, want string }{
		{"manager.replicas=-1", "/manager/replicas"},
		{"manager.image.pullPolicy=Sometimes", "/manager/image/pullPolicy"},
		{"manager.autotuneInterval=soon", "/manager/autotuneInterval"},
		{"metrics.port=70000", "/metrics/port"},
		{"manager.imageTag=x", "imageTag"},
		{"runtime.image=", "/runtime/image"},
	} {
		out := helm(t, false, "template", "x", "charts/dllm-operator", "--kube-version", kubeVersion, "--set", c.set)
		if !strings.Contains(out, c.want) {
			t.Errorf("--set %s: want an error naming %s, got:\n%s", c.set, c.want, out)
		}
	}
}

// The chart and the kustomize tree are one source: config/default/install.yaml is the chart
// rendered with the default values, the chart's CRD and manager rules are the ones
// controller-gen writes, and the rendered ClusterRole grants exactly those rules.
func TestChartAndKustomizeAgree(t *testing.T) {
	r := root(t)
	read := func(p string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(r, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for src, dst := range map[string]string{
		"config/crd/bases/serving.dllm.dev_dllmservices.yaml": "charts/dllm-operator/crds/serving.dllm.dev_dllmservices.yaml",
		"config/rbac/role.yaml":                               "charts/dllm-operator/files/manager-role.yaml",
		"config/prometheus-adapter/rules.yaml":                "charts/dllm-operator/files/prometheus-adapter-rules.yaml",
	} {
		if !bytes.Equal(read(src), read(dst)) {
			t.Errorf("%s differs from %s: run make manifests", dst, src)
		}
	}
	// install.yaml is the rendered chart after hack/render-manifests.sh's two header lines.
	_, install, _ := strings.Cut(string(read("config/default/install.yaml")), "then run make manifests.\n")
	rendered := template(t, "--set", "manager.image.tag=latest")
	if install != rendered {
		t.Errorf("config/default/install.yaml is not the chart rendered with its default values: run make manifests (-install.yaml +rendered):\n%s",
			cmp.Diff(install, rendered))
	}

	var markers rbacv1.ClusterRole
	if err := yaml.Unmarshal(read("config/rbac/role.yaml"), &markers); err != nil {
		t.Fatal(err)
	}
	var found bool
	for doc := range strings.SplitSeq(rendered, "\n---\n") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil || role.Kind != "ClusterRole" || role.Name != "dllm-operator-manager" {
			continue
		}
		found = true
		a, _ := yaml.Marshal(role.Rules)
		b, _ := yaml.Marshal(markers.Rules)
		if !bytes.Equal(a, b) {
			t.Errorf("the chart's manager ClusterRole grants\n%s\nbut the controller's markers ask for\n%s", a, b)
		}
	}
	if !found {
		t.Error("no ClusterRole dllm-operator-manager in the rendered chart")
	}
}
