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
