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
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A volume's files follow its source: changed keys are rewritten, removed keys disappear, items
// project keys to paths, and no temporary file stays behind.
func TestWriteFilesFollowsTheSource(t *testing.T) {
	dir := t.TempDir()
	read := func() map[string]string {
		got := map[string]string{}
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				data, _ := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				got[rel] = string(data)
			}
			return err
		})
		return got
	}
	steps := []struct {
		name  string
		files map[string][]byte
		items []corev1.KeyToPath
		want  map[string]string
	}{
		{"every key", map[string][]byte{"a": []byte("1"), "b": []byte("2")}, nil, map[string]string{"a": "1", "b": "2"}},
		{"a key changes and one goes", map[string][]byte{"a": []byte("3")}, nil, map[string]string{"a": "3"}},
		{"items at paths", map[string][]byte{"a": []byte("4"), "c": []byte("5")}, []corev1.KeyToPath{{Key: "c", Path: "sub/c.json"}},
			map[string]string{filepath.Join("sub", "c.json"): "5"}},
	}
	for _, st := range steps {
		if err := writeFiles(dir, st.files, st.items); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := read()
		keys := slices.Sorted(maps.Keys(got))
		if len(got) != len(st.want) {
			t.Errorf("%s: files %v, want %v", st.name, keys, st.want)
			continue
		}
		for k, v := range st.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", st.name, k, got[k], v)
			}
		}
	}
	if err := writeFiles(dir, map[string][]byte{}, []corev1.KeyToPath{{Key: "missing", Path: "x"}}); err == nil {
		t.Error("an item naming a missing key was accepted")
	}
}
