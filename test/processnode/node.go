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

package processnode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// Config describes a process node.
type Config struct {
	// Name is the Node's name.
	Name string
	// Images maps container images to local binaries. A key matches an image exactly, or by its
	// name without tag or digest ("registry.example/dllm-runtime" matches
	// "registry.example/dllm-runtime:v1").
	Images map[string]string
	// Root is the directory that holds each pod's directory (volumes and logs).
	Root string
	// HostIP is the node's address (default 127.0.0.1).
	HostIP string
	// PodCIDR is the IPv4 range (at most a /24's worth is used) that pods get their addresses
	// from (default 10.88.0.0/24). The addresses are local to this machine: Start routes the
	// range to the loopback device (`ip route add local CIDR dev lo`, which needs root or
	// CAP_NET_ADMIN) unless they are bindable already. Loopback addresses themselves (127.0.0.x)
	// would need no route, but the API server rejects them in EndpointSlices, so Services could
	// never list such pods.
	PodCIDR string
	// GPUs is the node's nvidia.com/gpu capacity and GPUType the value of its
	// nvidia.com/gpu.product label, so GPU pods schedule here; the processes run on the CPU.
	GPUs    int
	GPUType string
	// CPU and Memory are the node's capacity (default 16 and 64Gi).
	CPU, Memory string
	// AddressEnv names environment variables every container gets, set to its pod's address,
	// unless the pod sets them itself. Pods here share the machine's network, so a program that
	// binds every interface would hold its port for all pods; told its address, it binds that
	// alone (the runtime reads DLLM_LISTEN_HOST).
	AddressEnv []string
	// TLS, when set, serves the node's kubelet API (container logs, so `kubectl logs` works) on
	// HostIP at a free port that the Node object advertises. It holds the serving certificate,
	// and should require client certificates from the API server (package cluster builds one:
	// Cluster.KubeletTLS). Without it the node serves no API and logs are not reachable.
	TLS *tls.Config
}

// binaryFor returns the local binary of an image.
func (c Config) binaryFor(image string) (string, bool) {
	if b, ok := c.Images[image]; ok {
		return b, true
	}
	name := image
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	b, ok := c.Images[name]
	return b, ok
}

// Node is a running process node.
type Node struct {
	Provider *Provider
	vk       *nodeutil.Node
	cancel   context.CancelFunc
	routed   netip.Prefix // the route Start added, removed by Stop; invalid if none
	api      *http.Server // the kubelet API, nil without Config.TLS
}

// Start registers the node with the API server and runs its pods until Stop.
func Start(ctx context.Context, client kubernetes.Interface, cfg Config) (*Node, error) {
	if cfg.Name == "" || cfg.Root == "" {
		return nil, errors.New("processnode: a node needs a name and a root directory")
	}
	prefix, capacity, err := cfg.defaults()
	if err != nil {
		return nil, err
	}
	routed, err := routeLocal(prefix)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{"kubernetes.io/hostname": cfg.Name, "kubernetes.io/os": "linux", "type": "process-node"}
	if cfg.GPUs > 0 && cfg.GPUType != "" {
		labels["nvidia.com/gpu.product"] = cfg.GPUType
	}
	var apiListener net.Listener
	if cfg.TLS != nil {
		if apiListener, err = tls.Listen("tcp", net.JoinHostPort(cfg.HostIP, "0"), cfg.TLS); err != nil {
			unroute(routed)
			return nil, fmt.Errorf("processnode: kubelet API listener: %w", err)
		}
	}
	p := &Provider{cfg: cfg, pods: map[string]*podRun{}, ips: map[string]bool{}, wake: make(chan struct{}, 1), prefix: prefix}
	newProvider := func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		p.src = listerSources{pc.ConfigMaps, pc.Secrets}
		pc.Node.Status.Capacity = capacity
		pc.Node.Status.Allocatable = capacity
		pc.Node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.HostIP}}
		pc.Node.Status.NodeInfo.OperatingSystem = "linux"
		pc.Node.Status.NodeInfo.Architecture = "amd64"
		pc.Node.Labels = labels
		if apiListener != nil {
			pc.Node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(apiListener.Addr().(*net.TCPAddr).Port)
		}
		return p, nil, nil
	}
	vk, err := nodeutil.NewNode(cfg.Name, newProvider, nodeutil.WithClient(client),
		func(c *nodeutil.NodeConfig) error {
			// The pod controller resolves nothing itself: env from the downward API must see the
			// address this node assigns, which exists only once CreatePod runs.
			c.SkipDownwardAPIResolution = true
			c.NumWorkers = 4
			c.InformerResyncPeriod = time.Minute
			return nil
		})
	if err != nil {
		if apiListener != nil {
			_ = apiListener.Close()
		}
		unroute(routed)
		return nil, fmt.Errorf("processnode: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	n := &Node{Provider: p, vk: vk, cancel: cancel, routed: routed}
	if apiListener != nil {
		// Served here rather than by nodeutil, which listens only on a fixed address: the
		// port must be known before the Node object is registered.
		n.api = &http.Server{Handler: api.PodHandler(api.PodHandlerConfig{
			GetContainerLogs:  p.GetContainerLogs,
			RunInContainer:    p.RunInContainer,
			AttachToContainer: p.AttachToContainer,
			PortForward:       p.PortForward,
			GetPods:           p.GetPods,
			GetStatsSummary:   p.GetStatsSummary,
		}, false), ReadHeaderTimeout: 30 * time.Second}
		go func() { _ = n.api.Serve(apiListener) }()
	}
	go p.deliver(ctx)
	go p.syncVolumes(ctx)
	go func() { _ = vk.Run(ctx) }()
	if err := vk.WaitReady(ctx, time.Minute); err != nil {
		n.Stop()
		return nil, fmt.Errorf("processnode: node %s did not become ready: %w", cfg.Name, err)
	}
	return n, nil
}

// Stop ends every pod's processes and stops the node's controllers. The Node object stays in
// the API server, NotReady once its lease runs out, as a stopped kubelet's would.
func (n *Node) Stop() {
	n.Provider.StopAll(context.Background())
	if n.api != nil {
		_ = n.api.Close()
	}
	n.cancel()
	<-n.vk.Done()
	unroute(n.routed)
}

// defaults fills in the settings left empty and checks them; it returns the pod range and the
// node's capacity.
func (c *Config) defaults() (netip.Prefix, corev1.ResourceList, error) {
	if c.HostIP == "" {
		c.HostIP = "127.0.0.1"
	}
	if c.PodCIDR == "" {
		c.PodCIDR = "10.88.0.0/24"
	}
	prefix, err := netip.ParsePrefix(c.PodCIDR)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return prefix, nil, fmt.Errorf("processnode: pod CIDR %q: want an IPv4 range of at least 4 addresses", c.PodCIDR)
	}
	if c.CPU == "" {
		c.CPU = "16"
	}
	if c.Memory == "" {
		c.Memory = "64Gi"
	}
	capacity := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: c.CPU, corev1.ResourceMemory: c.Memory} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return prefix, nil, fmt.Errorf("processnode: %s %q: %w", name, v, err)
		}
		capacity[name] = q
	}
	if c.GPUs > 0 {
		capacity["nvidia.com/gpu"] = resource.MustParse(strconv.Itoa(c.GPUs))
	}
	return prefix.Masked(), capacity, nil
}

// routeLocal makes the addresses of prefix bindable on this machine: if its first host address
// cannot be bound, it adds a local route for prefix to the loopback device and returns prefix
// (for unroute); if they are bindable already it returns an invalid prefix.
func routeLocal(prefix netip.Prefix) (netip.Prefix, error) {
	if bindable(prefix.Addr().Next()) {
		return netip.Prefix{}, nil
	}
	out, err := exec.Command("ip", "route", "add", "local", prefix.String(), "dev", "lo").CombinedOutput()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("processnode: pod addresses %s are not local and `ip route add local %s dev lo` failed (it needs root or CAP_NET_ADMIN): %w: %s",
			prefix, prefix, err, strings.TrimSpace(string(out)))
	}
	return prefix, nil
}

// unroute removes a route routeLocal added.
func unroute(prefix netip.Prefix) {
	if prefix.IsValid() {
		_ = exec.Command("ip", "route", "del", "local", prefix.String(), "dev", "lo").Run()
	}
}

// bindable reports whether a TCP listener can bind to addr.
func bindable(addr netip.Addr) bool {
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// listerSources reads ConfigMaps and Secrets from the node's informers.
type listerSources struct {
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister
}

func (l listerSources) configMap(namespace, name string) (map[string]string, error) {
	cm, err := l.configMaps.ConfigMaps(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	data := map[string]string{}
	maps.Copy(data, cm.Data)
	for k, v := range cm.BinaryData {
		data[k] = string(v)
	}
	return data, nil
}

func (l listerSources) secret(namespace, name string) (map[string][]byte, error) {
	s, err := l.secrets.Secrets(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}
