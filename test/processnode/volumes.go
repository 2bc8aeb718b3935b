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
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// materialize writes the pod's volumes under dir/volumes and returns each volume's directory.
// emptyDir volumes are empty directories; configMap and secret volumes hold one file per key
// (or per listed item).
func materialize(pod *corev1.Pod, dir string, src sources) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		p := filepath.Join(dir, "volumes", v.Name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, err
		}
		paths[v.Name] = p
		if v.EmptyDir != nil {
			continue
		}
		if v.ConfigMap == nil && v.Secret == nil {
			return nil, fmt.Errorf("volume %s: unsupported type (the process node has emptyDir, configMap and secret volumes)", v.Name)
		}
		if err := project(pod.Namespace, v, p, src); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// refresh brings the pod's configMap and secret volumes up to date with their sources, as the
// kubelet does periodically, so a program that rereads its config file sees a changed
// ConfigMap without a restart. Each file is replaced atomically; keys that went away are removed.
func refresh(pod *corev1.Pod, dir string, src sources) error {
	var errs []error
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil {
			errs = append(errs, project(pod.Namespace, v, filepath.Join(dir, "volumes", v.Name), src))
		}
	}
	return errors.Join(errs...)
}

// project writes a configMap or secret volume's files into dir.
func project(namespace string, v corev1.Volume, dir string, src sources) error {
	var files map[string][]byte
	var items []corev1.KeyToPath
	switch {
	case v.ConfigMap != nil:
		data, err := src.configMap(namespace, v.ConfigMap.Name)
		if err != nil {
			if optional(v.ConfigMap.Optional) {
				return nil
			}
			return fmt.Errorf("volume %s: configMap %s: %w", v.Name, v.ConfigMap.Name, err)
		}
		files = map[string][]byte{}
		for k, s := range data {
			files[k] = []byte(s)
		}
		items = v.ConfigMap.Items
	default:
		data, err := src.secret(namespace, v.Secret.SecretName)
		if err != nil {
			if optional(v.Secret.Optional) {
				return nil
			}
			return fmt.Errorf("volume %s: secret %s: %w", v.Name, v.Secret.SecretName, err)
		}
		files, items = data, v.Secret.Items
	}
	if err := writeFiles(dir, files, items); err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	return nil
}

// writeFiles makes dir hold files: every key, or only the listed items at their paths. A file
// whose content changed is replaced by a rename, so a reader sees the old or the new content,
// never a mix; files of keys no longer present are removed.
func writeFiles(dir string, files map[string][]byte, items []corev1.KeyToPath) error {
	if len(items) == 0 {
		for k := range files {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	want := map[string]bool{}
	for _, it := range items {
		data, ok := files[it.Key]
		if !ok {
			return fmt.Errorf("no key %q", it.Key)
		}
		p := filepath.Join(dir, filepath.Clean("/"+it.Path))
		want[p] = true
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		tmp := filepath.Join(filepath.Dir(p), ".."+filepath.Base(p)+".tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || want[p] {
			return err
		}
		return os.Remove(p)
	})
}

// mount is a container's mount path and the local directory that stands for it.
type mount struct{ path, local string }

// mounts maps a container's volume mounts onto the pod's volume directories, longest mount path
// first so that nested mounts win.
func mounts(c *corev1.Container, volumes map[string]string) ([]mount, error) {
	var ms []mount
	for _, vm := range c.VolumeMounts {
		local, ok := volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %s: no volume of that name", vm.Name)
		}
		ms = append(ms, mount{path: filepath.Clean(vm.MountPath), local: filepath.Join(local, filepath.Clean("/"+vm.SubPath))})
	}
	slices.SortStableFunc(ms, func(a, b mount) int { return len(b.path) - len(a.path) })
	return ms, nil
}

// rewrite replaces mount paths in s with their local directories where they stand as a path:
// at the start of s or after '=' or ':', and followed by the end of s, '/' or ':'. It makes one
// pass, the longest mount path first at each place, so a replacement is never rewritten again
// (the pod's directory may itself lie under a mount path, such as /tmp).
func rewrite(s string, ms []mount) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if i == 0 || s[i-1] == '=' || s[i-1] == ':' {
			if m, ok := mountAt(s[i:], ms); ok {
				b.WriteString(m.local)
				i += len(m.path)
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// mountAt returns the longest mount whose path starts s as a whole path element.
func mountAt(s string, ms []mount) (mount, bool) {
	for _, m := range ms { // longest first
		if !strings.HasPrefix(s, m.path) {
			continue
		}
		if rest := s[len(m.path):]; rest == "" || rest[0] == '/' || rest[0] == ':' {
			return m, true
		}
	}
	return mount{}, false
}
