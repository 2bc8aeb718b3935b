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
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
)

func TestOpenLogOptions(t *testing.T) {
	long := strings.Repeat("x", 40<<10) // longer than one backward read
	cases := []struct {
		name, content string
		opts          api.ContainerLogOpts
		want          string
	}{
		{"whole", "a\nb\nc\n", api.ContainerLogOpts{}, "a\nb\nc\n"},
		{"tail 1", "a\nb\nc\n", api.ContainerLogOpts{Tail: 1}, "c\n"},
		{"tail 2", "a\nb\nc\n", api.ContainerLogOpts{Tail: 2}, "b\nc\n"},
		{"tail beyond the start", "a\nb\n", api.ContainerLogOpts{Tail: 5}, "a\nb\n"},
		{"tail of an unfinished line", "a\nb\nc", api.ContainerLogOpts{Tail: 1}, "c"},
		{"tail of an empty log", "", api.ContainerLogOpts{Tail: 3}, ""},
		{"tail across read blocks", "first\n" + long + "\nlast\n", api.ContainerLogOpts{Tail: 2}, long + "\nlast\n"},
		{"limit bytes", "a\nb\nc\n", api.ContainerLogOpts{LimitBytes: 3}, "a\nb"},
		{"tail then limit", "a\nb\nc\n", api.ContainerLogOpts{Tail: 2, LimitBytes: 1}, "b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := openLog(context.Background(), path, tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			_ = r.Close()
			if err != nil || string(got) != tc.want {
				t.Errorf("read %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestOpenLogRefusesWhatItCannotSelect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []api.ContainerLogOpts{{Previous: true}, {Timestamps: true}, {SinceSeconds: 10}, {SinceTime: time.Now()}} {
		if _, err := openLog(context.Background(), path, opts, nil); !errdefs.IsInvalidInput(err) {
			t.Errorf("%+v: %v, want an invalid-input error", opts, err)
		}
	}
	if _, err := openLog(context.Background(), filepath.Join(t.TempDir(), "none"), api.ContainerLogOpts{}, nil); !errdefs.IsNotFound(err) {
		t.Errorf("missing log: %v, want not found", err)
	}
}

// A followed log delivers what is written after it was opened, and ends once the pod stops.
func TestOpenLogFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	r, err := openLog(context.Background(), path, api.ContainerLogOpts{Follow: true}, stopped)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		got <- string(data)
	}()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * followPoll)
	_, _ = f.WriteString("after\n")
	time.Sleep(3 * followPoll)
	_, _ = f.WriteString("last words\n")
	_ = f.Close()
	close(stopped)
	select {
	case s := <-got:
		if s != "before\nafter\nlast words\n" {
			t.Errorf("followed %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a followed log did not end when its pod stopped")
	}
}
