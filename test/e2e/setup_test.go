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
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers"
	"dllm.dev/dllm-operator/controllers/render"
	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/test/cluster"
	"dllm.dev/dllm-operator/test/processnode"
)

// uniqueNamesOff lets each test of the package start a manager with the DLLMService
// controller: controller-runtime refuses a second controller of the same name in one process.
var uniqueNamesOff = config.Controller{SkipNameValidation: new(true)}

// env is what an end-to-end test runs on: the local cluster with a process node that runs the
// dllm-runtime image as the binary built from this checkout.
type env struct {
	ctx     context.Context
	root    string // the repository root
	dir     string // the test's scratch folder, with the binaries built for it
	cluster *cluster.Cluster
	cs      kubernetes.Interface
	scheme  *runtime.Scheme
}

// setup builds dllm-runtime, starts the cluster (with the CRDs in crdDirs installed, if any)
// and the process node, and stops them when the test ends; the whole test has 8 minutes.
func setup(t *testing.T, crdDirs ...string) *env {
	t.Helper()
	ctrllog.SetLogger(logr.Discard())
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test-integration` (hack/envtest-assets.sh cluster)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, root: root, dir: t.TempDir()}
	bin := e.build(t, "dllm-runtime", "./cmd/dllm-runtime")

	if e.cluster, err = cluster.Start(ctx, cluster.Options{Assets: assets, CRDDirectoryPaths: crdDirs}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.cluster.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	e.cs = kubernetes.NewForConfigOrDie(e.cluster.Config)
	kubeletTLS, err := e.cluster.KubeletTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	node, err := processnode.Start(ctx, e.cs, processnode.Config{Name: "process-node", Root: t.TempDir(),
		Images: map[string]string{"dllm-runtime": bin}, AddressEnv: []string{contract.ListenHostEnv}, TLS: kubeletTLS,
		// Its own range: the cluster package's tests may run at the same time, with theirs.
		PodCIDR: "10.88.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)

	e.scheme = runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(e.scheme); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// build runs go build in the repository root with args before the package and returns the
// binary's path in the test's folder.
func (e *env) build(t *testing.T, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(e.dir, name)
	cmd := exec.Command("go", append([]string{"build", "-o", out}, args...)...)
	cmd.Dir = e.root
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, msg)
	}
	return out
}

// startManager runs a manager with the DLLMService controller (its tuner deciding every 2 s,
// pods given runtimeImage) on cfg until the test ends; options, if set, adds to the manager's
// options.
func (e *env) startManager(t *testing.T, cfg *rest.Config, runtimeImage string, options func(*ctrl.Options)) {
	t.Helper()
	opts := ctrl.Options{Scheme: e.scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Cache: controllers.CacheOptions(), Controller: uniqueNamesOff}
	if options != nil {
		options(&opts)
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&controllers.DLLMServiceReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("dllm-operator"),
		Render: render.Options{RuntimeImage: runtimeImage}, Tuner: &controllers.Tuner{Interval: 2 * time.Second}}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}
