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

// Command devcluster runs the local cluster for `make demo` and for trying the operator by hand:
// the control plane of package cluster (etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler from `hack/envtest-assets.sh cluster`) and one process node (package
// processnode) that runs pods as local processes, with images mapped to local binaries by
// --image. It writes an admin kubeconfig, installs nothing, and runs until interrupted; then it
// stops every pod's processes and the control plane.
//
// The node routes its pod range to the loopback device, which needs root or CAP_NET_ADMIN.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/test/cluster"
	"dllm.dev/dllm-operator/test/processnode"
)

// imageFlags collects repeated --image NAME=BINARY flags.
type imageFlags map[string]string

func (f imageFlags) String() string { return fmt.Sprint(map[string]string(f)) }

func (f imageFlags) Set(v string) error {
	name, bin, ok := strings.Cut(v, "=")
	if !ok || name == "" || bin == "" {
		return fmt.Errorf("want NAME=BINARY, got %q", v)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", bin)
	}
	f[name] = abs
	return nil
}

func main() {
	images := imageFlags{}
	kubeconfig := flag.String("write-kubeconfig", ".demo/kubeconfig", "Where to write the admin kubeconfig.")
	root := flag.String("node-root", "", "Directory of the pods' files (volumes, logs); default: a temporary one, removed at exit.")
	gpus := flag.Int("gpus", 4, "nvidia.com/gpu capacity the node advertises (its pods run on the CPU).")
	gpuType := flag.String("gpu-type", "NVIDIA-H100-80GB-HBM3", "The node's nvidia.com/gpu.product label.")
	podCIDR := flag.String("pod-cidr", "10.88.8.0/24",
		"The pods' address range, routed to the loopback device (apart from the tests' ranges, so both can run at once).")
	flag.Var(images, "image", "NAME=BINARY: run containers of image NAME (any tag) as BINARY; repeatable.")
	flag.Parse()
	// envtest logs through controller-runtime's logger; the components' own logs go to stderr.
	ctrllog.SetLogger(logr.Discard())
	if err := run(*kubeconfig, *root, images, *gpus, *gpuType, *podCIDR); err != nil {
		fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig, root string, images map[string]string, gpus int, gpuType, podCIDR string) error {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return fmt.Errorf("KUBEBUILDER_ASSETS is not set: run hack/envtest-assets.sh cluster and export its output")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{Assets: assets, Logs: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "devcluster: stop control plane: %v\n", err)
		}
	}()
	if root == "" {
		if root, err = os.MkdirTemp("", "dllm-node-"); err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(root) }()
	}
	kubeletTLS, err := c.KubeletTLS("127.0.0.1")
	if err != nil {
		return err
	}
	n, err := processnode.Start(ctx, kubernetes.NewForConfigOrDie(c.Config), processnode.Config{
		Name: "process-node", Root: root, Images: images, GPUs: gpus, GPUType: gpuType, PodCIDR: podCIDR,
		AddressEnv: []string{contract.ListenHostEnv}, TLS: kubeletTLS,
	})
	if err != nil {
		return err
	}
	defer n.Stop()

	data, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o755); err != nil {
		return err
	}
	// Written to a temporary file and renamed, so a watcher never reads half a kubeconfig.
	tmp := kubeconfig + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, kubeconfig); err != nil {
		return err
	}
	defer func() { _ = os.Remove(kubeconfig) }()
	fmt.Printf("Cluster ready in %.1fs at %s (node process-node, pods in %s); kubeconfig %s\n",
		time.Since(start).Seconds(), c.Config.Host, root, kubeconfig)
	<-ctx.Done()
	fmt.Println("Stopping the node's pods and the control plane.")
	return nil
}
