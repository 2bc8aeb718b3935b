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
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"POD_IP": "10.88.0.2", "PORT": "8000"}
	for _, tc := range []struct{ in, want string }{
		{"$(POD_IP):$(PORT)", "10.88.0.2:8000"},
		{"--addr=$(POD_IP)", "--addr=10.88.0.2"},
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"$$(POD_IP)", "$(POD_IP)"},
		{"cost $5", "cost $5"},
		{"open $(POD_IP", "open $(POD_IP"},
		{"", ""},
	} {
		if got := expand(tc.in, vars); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRewrite(t *testing.T) {
	ms := []mount{{path: "/etc/dllm/config", local: "/pods/p/volumes/cfg"}, {path: "/etc/dllm", local: "/pods/p/volumes/etc"}}
	for _, tc := range []struct{ in, want string }{
		{"--config=/etc/dllm/config/runtime.yaml", "--config=/pods/p/volumes/cfg/runtime.yaml"},
		{"/etc/dllm/token", "/pods/p/volumes/etc/token"},
		{"/etc/dllm", "/pods/p/volumes/etc"},
		{"/etc/dllmx/token", "/etc/dllmx/token"},
		{"PATH=/bin:/etc/dllm", "PATH=/bin:/pods/p/volumes/etc"},
		{"x/etc/dllm", "x/etc/dllm"},
	} {
		if got := rewrite(tc.in, ms); got != tc.want {
			t.Errorf("rewrite(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// The pod's directory under a mount path (/tmp here): a replacement is not rewritten again.
	ms = []mount{{path: "/etc/dllm", local: "/tmp/pods/p/volumes/config"}, {path: "/tmp", local: "/tmp/pods/p/volumes/tmp"}}
	for _, tc := range []struct{ in, want string }{
		{"/etc/dllm/config.json", "/tmp/pods/p/volumes/config/config.json"},
		{"/tmp/x:/etc/dllm", "/tmp/pods/p/volumes/tmp/x:/tmp/pods/p/volumes/config"},
	} {
		if got := rewrite(tc.in, ms); got != tc.want {
			t.Errorf("rewrite(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBinaryFor(t *testing.T) {
	c := Config{Images: map[string]string{"registry.example/dllm-runtime": "/bin/runtime", "localhost:5000/echo:v2": "/bin/echo2"}}
	for _, tc := range []struct {
		image, want string
		ok          bool
	}{
		{"registry.example/dllm-runtime:v0.1.0", "/bin/runtime", true},
		{"registry.example/dllm-runtime@sha256:abc", "/bin/runtime", true},
		{"registry.example/dllm-runtime", "/bin/runtime", true},
		{"localhost:5000/echo:v2", "/bin/echo2", true},
		{"localhost:5000/echo:v3", "", false},
		{"other/image:v1", "", false},
	} {
		got, ok := c.binaryFor(tc.image)
		if got != tc.want || ok != tc.ok {
			t.Errorf("binaryFor(%q) = %q, %v, want %q, %v", tc.image, got, ok, tc.want, tc.ok)
		}
	}
}

type fakeSources struct {
	cms     map[string]map[string]string
	secrets map[string]map[string][]byte
}

func (f fakeSources) configMap(_, name string) (map[string]string, error) {
	if d, ok := f.cms[name]; ok {
		return d, nil
	}
	return nil, errors.New("not found")
}

func (f fakeSources) secret(_, name string) (map[string][]byte, error) {
	if d, ok := f.secrets[name]; ok {
		return d, nil
	}
	return nil, errors.New("not found")
}

func TestEnvironment(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "x"}},
		Status: corev1.PodStatus{PodIP: "10.88.0.5"}}
	src := fakeSources{cms: map[string]map[string]string{"cm": {"A": "1"}}, secrets: map[string]map[string][]byte{"s": {"token": []byte("t0k")}}}
	yes := true
	c := &corev1.Container{
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
		Env: []corev1.EnvVar{
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "token"}}},
			{Name: "MISSING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &yes}}},
			{Name: "ADDR", Value: "$(IP):8000"},
		},
	}
	env, _, err := environment(pod, c, src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CM_A=1", "IP=10.88.0.5", "APP=x", "TOKEN=t0k", "ADDR=10.88.0.5:8000"}
	if !slices.Equal(env, want) {
		t.Errorf("environment = %q, want %q", env, want)
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: "BAD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "absent"}}})
	if _, _, err := environment(pod, c, src); err == nil {
		t.Error("a required secret key that is absent gave no error")
	}
}
