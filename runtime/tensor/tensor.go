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

package tensor

import (
	"fmt"
	"slices"
)

// DType is the element type of a Tensor.
type DType int

const (
	// DTypeUnknown is the zero DType; no backend allocates it.
	DTypeUnknown DType = iota
	// F32 is IEEE 754 single precision, the dtype every backend must support.
	F32
)

// String returns the dtype's safetensors spelling, "F32".
func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case DTypeUnknown:
		return "unknown"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size returns the number of bytes of one element of type d, or 0 for an invalid DType.
func (d DType) Size() int {
	if d == F32 {
		return 4
	}
	return 0
}

// Tensor is a dense, contiguous, row-major array whose storage is owned by a Backend.
// Model code creates tensors with [Backend.Alloc] or [Backend.FromFloat32], never with [New].
type Tensor struct {
	dtype DType
	shape []int
	data  any
}

// New returns a tensor of dtype dt and the given shape over storage data. It is meant for
// Backend implementations only: data is the backend's opaque storage handle (the CPU backend
// uses a []float32 of exactly NumElements(shape) elements) and the backend checks it on every
// use. New copies shape. It returns an error wrapping ErrShape if a dimension is negative.
func New(dt DType, shape []int, data any) (*Tensor, error) {
	if _, err := NumElements(shape); err != nil {
		return nil, err
	}
	return &Tensor{dtype: dt, shape: slices.Clone(shape), data: data}, nil
}

// NumElements returns the product of the dimensions of shape, 1 for a scalar (empty) shape.
// It returns an error wrapping ErrShape if a dimension is negative.
func NumElements(shape []int) (int, error) {
	n := 1
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("dimension %d is %d: %w", i, d, ErrShape)
		}
		n *= d
	}
	return n, nil
}

// DType returns the element type of t.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of t's dimensions, outermost first.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// Rank returns the number of dimensions of t.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns the size of dimension i. A negative i counts from the end: Dim(-1) is the
// innermost dimension. Dim panics if i is out of range, like a slice index.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Len returns the number of elements of t.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// Data returns t's storage handle. It is meant for Backend implementations only.
func (t *Tensor) Data() any { return t.data }

// Reshape returns a view of t with a new shape and the same number of elements. The view shares
// t's storage: writes through either are visible through both. It returns an error wrapping
// ErrShape if the element counts differ or a dimension is negative.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n != t.Len() {
		return nil, fmt.Errorf("reshape %v (%d elements) to %v (%d elements): %w", t.shape, t.Len(), shape, n, ErrShape)
	}
	return &Tensor{dtype: t.dtype, shape: slices.Clone(shape), data: t.data}, nil
}

// Viewer is implemented by storage handles of backends whose tensors are not Go slices (device
// memory): View returns the handle of elements [from, to) of the storage, sharing it.
type Viewer interface {
	View(from, to int) any
}

// Rows returns a view of rows [from, to) of t's outermost dimension: a tensor of shape
// (to−from, t.Dim(1), ...) sharing t's storage, so writes through either are visible through
// both. Model code uses it to address one sequence of a batch. The storage handle must be a
// []float32 (the CPU backend) or implement [Viewer]. It returns an error wrapping ErrShape if t
// is a scalar or the range is out of bounds, and ErrArgument if the storage cannot be viewed.
func (t *Tensor) Rows(from, to int) (*Tensor, error) {
	if len(t.shape) == 0 {
		return nil, fmt.Errorf("rows of scalar %v: %w", t, ErrShape)
	}
	if from < 0 || to < from || to > t.shape[0] {
		return nil, fmt.Errorf("rows [%d, %d) of %v: %w", from, to, t, ErrShape)
	}
	stride := 1
	for _, d := range t.shape[1:] {
		stride *= d
	}
	shape := slices.Clone(t.shape)
	shape[0] = to - from
	var data any
	switch s := t.data.(type) {
	case []float32:
		if len(s) != t.Len() {
			return nil, fmt.Errorf("rows of %v: storage has %d elements: %w", t, len(s), ErrArgument)
		}
		data = s[from*stride : to*stride : to*stride]
	case Viewer:
		data = s.View(from*stride, to*stride)
	default:
		return nil, fmt.Errorf("rows of %v: storage %T cannot be viewed: %w", t, t.data, ErrArgument)
	}
	return &Tensor{dtype: t.dtype, shape: shape, data: data}, nil
}

// String describes t's dtype and shape, for error messages: "F32[4 8]".
func (t *Tensor) String() string {
	if t == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%v%v", t.dtype, t.shape)
}
