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

package tensor_test

import (
	"errors"
	"slices"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

func TestNumElements(t *testing.T) {
	tests := []struct {
		name    string
		shape   []int
		want    int
		wantErr error
	}{
		{"scalar", nil, 1, nil},
		{"vector", []int{7}, 7, nil},
		{"matrix", []int{3, 4}, 12, nil},
		{"empty dimension", []int{3, 0, 2}, 0, nil},
		{"negative dimension", []int{3, -1}, 0, tensor.ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tensor.NumElements(tc.shape)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("NumElements(%v) = %d, %v, want %d, %v", tc.shape, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestReshape(t *testing.T) {
	storage := make([]float32, 24)
	x, err := tensor.New(tensor.F32, []int{2, 3, 4}, storage)
	if err != nil {
		t.Fatalf("New(F32, [2 3 4]) = %v", err)
	}
	tests := []struct {
		name    string
		shape   []int
		wantErr error
	}{
		{"merge heads", []int{2, 12}, nil},
		{"flatten", []int{24}, nil},
		{"too few elements", []int{2, 11}, tensor.ErrShape},
		{"negative", []int{-2, -12}, tensor.ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := x.Reshape(tc.shape...)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Reshape(%v) = %v, want %v", tc.shape, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(v.Shape(), tc.shape) || v.DType() != tensor.F32 {
				t.Errorf("Reshape(%v) = %v, want F32%v", tc.shape, v, tc.shape)
			}
			if d, ok := v.Data().([]float32); !ok || &d[0] != &storage[0] {
				t.Errorf("Reshape(%v) does not share storage with its source", tc.shape)
			}
		})
	}
}

func TestTensorAccessors(t *testing.T) {
	shape := []int{5, 2, 8}
	x, err := tensor.New(tensor.F32, shape, nil)
	if err != nil {
		t.Fatalf("New(F32, %v) = %v", shape, err)
	}
	shape[0] = 99 // New copies its shape
	x.Shape()[1] = 99
	if got, want := x.Shape(), []int{5, 2, 8}; !slices.Equal(got, want) {
		t.Errorf("Shape() = %v, want %v", got, want)
	}
	if x.Rank() != 3 || x.Len() != 80 || x.Dim(0) != 5 || x.Dim(-1) != 8 {
		t.Errorf("Rank, Len, Dim(0), Dim(-1) = %d, %d, %d, %d, want 3, 80, 5, 8", x.Rank(), x.Len(), x.Dim(0), x.Dim(-1))
	}
	if got := x.String(); got != "F32[5 2 8]" {
		t.Errorf("String() = %q, want %q", got, "F32[5 2 8]")
	}
	if _, err := tensor.New(tensor.F32, []int{-1}, nil); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("New(F32, [-1]) = %v, want %v", err, tensor.ErrShape)
	}
}

// releasing is a Backend with the Releaser capability; its other methods are never called.
type releasing struct {
	tensor.Backend
	released []*tensor.Tensor
}

func (r *releasing) Release(t *tensor.Tensor) error {
	r.released = append(r.released, t)
	return nil
}

// plain is a Backend without the Releaser capability.
type plain struct{ tensor.Backend }

func TestRelease(t *testing.T) {
	x, err := tensor.New(tensor.F32, []int{1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &releasing{}
	if err := tensor.Release(r, x); err != nil || len(r.released) != 1 || r.released[0] != x {
		t.Errorf("Release(releasing, x) = %v, released %v, want nil, [x]", err, r.released)
	}
	if err := tensor.Release(plain{}, x); err != nil {
		t.Errorf("Release(plain, x) = %v, want nil", err)
	}
}

// deviceBuffer stands in for a GPU backend's storage handle: an offset into device memory.
type deviceBuffer struct{ from, to int }

func (d deviceBuffer) View(from, to int) any { return deviceBuffer{d.from + from, d.from + to} }

func TestRows(t *testing.T) {
	storage := make([]float32, 24)
	for i := range storage {
		storage[i] = float32(i)
	}
	x, err := tensor.New(tensor.F32, []int{4, 3, 2}, storage)
	if err != nil {
		t.Fatalf("New(F32, [4 3 2]) = %v", err)
	}
	tests := []struct {
		name      string
		from, to  int
		wantShape []int
		wantFirst float32
		wantErr   error
	}{
		{"one row", 1, 2, []int{1, 3, 2}, 6, nil},
		{"middle rows", 1, 3, []int{2, 3, 2}, 6, nil},
		{"all rows", 0, 4, []int{4, 3, 2}, 0, nil},
		{"empty range", 2, 2, []int{0, 3, 2}, 0, nil},
		{"past the end", 3, 5, nil, 0, tensor.ErrShape},
		{"negative start", -1, 2, nil, 0, tensor.ErrShape},
		{"reversed", 3, 2, nil, 0, tensor.ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := x.Rows(tc.from, tc.to)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Rows(%d, %d) = %v, want %v", tc.from, tc.to, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			d := v.Data().([]float32)
			if !slices.Equal(v.Shape(), tc.wantShape) || len(d) != v.Len() {
				t.Fatalf("Rows(%d, %d) = %v with %d elements, want F32%v", tc.from, tc.to, v, len(d), tc.wantShape)
			}
			if len(d) > 0 && (d[0] != tc.wantFirst || &d[0] != &storage[tc.from*6]) {
				t.Errorf("Rows(%d, %d) does not view the source's row %d", tc.from, tc.to, tc.from)
			}
		})
	}
	t.Run("writes are shared", func(t *testing.T) {
		v, err := x.Rows(2, 3)
		if err != nil {
			t.Fatal(err)
		}
		v.Data().([]float32)[0] = -1
		if storage[12] != -1 {
			t.Errorf("write through Rows(2, 3) not visible in the source")
		}
	})
	t.Run("scalar", func(t *testing.T) {
		s, err := tensor.New(tensor.F32, nil, make([]float32, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rows(0, 1); !errors.Is(err, tensor.ErrShape) {
			t.Errorf("Rows of a scalar = %v, want ErrShape", err)
		}
	})
	t.Run("device storage", func(t *testing.T) {
		g, err := tensor.New(tensor.F32, []int{4, 5}, deviceBuffer{100, 120})
		if err != nil {
			t.Fatal(err)
		}
		v, err := g.Rows(1, 3)
		if err != nil {
			t.Fatalf("Rows on Viewer storage = %v", err)
		}
		if got, want := v.Data(), (deviceBuffer{105, 115}); got != want {
			t.Errorf("Rows(1, 3) storage = %v, want %v", got, want)
		}
	})
	t.Run("opaque storage", func(t *testing.T) {
		g, err := tensor.New(tensor.F32, []int{2, 2}, "handle")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Rows(0, 1); !errors.Is(err, tensor.ErrArgument) {
			t.Errorf("Rows on opaque storage = %v, want ErrArgument", err)
		}
	})
}
