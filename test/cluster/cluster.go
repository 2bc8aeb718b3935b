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

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Components are the control-plane commands Start runs next to etcd and kube-apiserver, all
// from the directory hack/envtest-assets.sh prints when asked for the cluster binaries.
var Components = []string{"kube-controller-manager", "kube-scheduler"}

// Options configure Start.
type Options struct {
	// Assets is the directory with etcd, kube-apiserver, kube-controller-manager and
	// kube-scheduler (`hack/envtest-assets.sh cluster`).
	Assets string
	// CRDDirectoryPaths are installed before Start returns.
	CRDDirectoryPaths []string
	// Logs receives the controller-manager's and scheduler's output (nil: discarded).
	Logs io.Writer
}

// Cluster is a running control plane.
type Cluster struct {
	// Config reaches the API server as a member of system:masters.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same user, for kubectl and helm and
	// for the controller-manager and scheduler themselves.
	Kubeconfig string

	env   *envtest.Environment
	dir   string
	pki   *kubeletPKI
	procs []*process
}

// process is one component: its command and the result of waiting for it.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// exit is why the process ended: its wait error, or that it exited cleanly (which a component
// that should run until stopped does not do either).
func (p *process) exit() error {
	if p.err != nil {
		return p.err
	}
	return errors.New("exit status 0")
}

// Start runs etcd and kube-apiserver (through envtest), then kube-controller-manager and
// kube-scheduler against them, and returns once the API server answers; the components then
// catch up within seconds (their leader election is off). On error nothing is left running.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	if o.Assets == "" {
		return nil, errors.New("cluster: no assets directory: run hack/envtest-assets.sh cluster and pass its output")
	}
	for _, name := range append([]string{"etcd", "kube-apiserver"}, Components...) {
		if _, err := os.Stat(filepath.Join(o.Assets, name)); err != nil {
			return nil, fmt.Errorf("cluster: %s is missing from %s (run hack/envtest-assets.sh cluster): %w", name, o.Assets, err)
		}
	}
	c = &Cluster{env: &envtest.Environment{
		BinaryAssetsDirectory: o.Assets,
		CRDDirectoryPaths:     o.CRDDirectoryPaths,
		ErrorIfCRDPathMissing: len(o.CRDDirectoryPaths) > 0,
	}}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if c.dir, err = os.MkdirTemp("", "dllm-cluster-"); err != nil {
		return c, fmt.Errorf("cluster: %w", err)
	}
	if c.pki, err = newKubeletPKI(); err != nil {
		return c, fmt.Errorf("cluster: kubelet CA: %w", err)
	}
	kubeletFlags, err := c.pki.apiServerFlags(c.dir)
	if err != nil {
		return c, err
	}
	apiServer := c.env.ControlPlane.GetAPIServer().Configure()
	for name, value := range kubeletFlags {
		apiServer.Set(name, value)
	}
	if c.Config, err = c.env.Start(); err != nil {
		return c, fmt.Errorf("cluster: start etcd and kube-apiserver: %w", err)
	}
	if c.Kubeconfig, err = c.writeKubeconfig(); err != nil {
		return c, err
	}
	logs := o.Logs
	if logs == nil {
		logs = io.Discard
	}
	for _, name := range Components {
		if err := c.run(ctx, filepath.Join(o.Assets, name), logs, c.flags(name)...); err != nil {
			return c, err
		}
	}
	return c, nil
}

// flags are a component's command line: the admin kubeconfig, no leader election (one
// instance), no HTTPS port of its own (tests run several clusters at once and only talk to the
// API server).
func (c *Cluster) flags(name string) []string {
	f := []string{"--kubeconfig=" + c.Kubeconfig, "--leader-elect=false", "--secure-port=0"}
	if name == "kube-controller-manager" {
		// Every default controller. envtest's API server admits Pods without a ServiceAccount,
		// so the token controller (which needs a signing key) is not needed and stays off.
		f = append(f, "--controllers=*,-serviceaccount-token", "--use-service-account-credentials=false")
	}
	return f
}

// writeKubeconfig writes the admin kubeconfig into the cluster's directory.
func (c *Cluster) writeKubeconfig() (string, error) {
	user, err := c.env.AddUser(envtest.User{Name: "cluster-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("cluster: add admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("cluster: admin kubeconfig: %w", err)
	}
	path := filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	return path, nil
}

// run starts one component in its own process group, so Stop can end it and anything it
// started.
func (c *Cluster) run(ctx context.Context, bin string, logs io.Writer, args ...string) error {
	p := &process{name: filepath.Base(bin), cmd: exec.Command(bin, args...), done: make(chan struct{})}
	out := prefixed(logs, p.name)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("cluster: start %s: %w", p.name, err)
	}
	c.procs = append(c.procs, p)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	// A component that exits at once (a bad flag, a missing file) is an error of Start, not a
	// mystery for the first test that waits for it.
	select {
	case <-p.done:
		return fmt.Errorf("cluster: %s exited at start: %w", p.name, p.exit())
	case <-time.After(500 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends the components (SIGTERM to each process group, SIGKILL after 10 s), then the API
// server and etcd, and removes the cluster's files.
func (c *Cluster) Stop() error {
	var errs []error
	for _, p := range c.procs {
		select {
		case <-p.done:
			errs = append(errs, fmt.Errorf("cluster: %s had exited: %w", p.name, p.exit()))
			continue
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	c.procs = nil
	if c.env != nil && c.Config != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: stop etcd and kube-apiserver: %w", err))
		}
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// prefixed writes each line of a component's output to w behind the component's name. A command
// given the same writer for both streams calls it from one goroutine at a time.
func prefixed(w io.Writer, name string) io.Writer {
	if w == io.Discard {
		return w
	}
	return &linePrefixer{w: w, prefix: name + ": "}
}

type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := io.WriteString(l.w, l.prefix+string(l.buf[:i+1])); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
}
