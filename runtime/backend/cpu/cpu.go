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

package cpu

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// Backend is the fast CPU backend: a blocked SGEMM with assembly microkernels, attention built
// on it, and elementwise operations spread over threads. The zero value is ready to use and
// runs on GOMAXPROCS threads.
type Backend struct {
	// threads is the most goroutines one operation uses; 0 means GOMAXPROCS at call time.
	threads int
	// kernels, if set, replaces the instruction set chosen for this CPU (tests force each one).
	kernels *kernels
	// packed maps the first element of a prepacked weight's storage to its *packedWeight.
	packed sync.Map
	// rope maps a ropeKey to the *ropeTable of its cosines and sines.
	rope sync.Map
}

var (
	_ tensor.Prepacker = (*Backend)(nil)
	_ tensor.Reader    = (*Backend)(nil)
	_ tensor.Reader    = (*Reference)(nil)
)

// packedWeight is a weight matrix packed once for one kernel set: in bfloat16 when the kernels
// can read that and every value is exact in it, else in float32.
type packedWeight struct {
	ks     *kernels
	n, k   int
	data   []float32
	data16 []uint16
}

// Prepack packs the (N, K) matrix w for MatMul's B operand once, so MatMul(dst, a, w) skips
// repacking it on every call; small-M products (a cache's few recomputed rows) otherwise spend
// about as long packing the weight as multiplying. w must not be modified afterwards. The
// packed copy lives as long as the backend (it doubles w's memory).
func (be *Backend) Prepack(w *tensor.Tensor) error {
	x, err := data(w, "w")
	if err != nil {
		return fmt.Errorf("cpu: prepack: %w", err)
	}
	if w.Rank() != 2 {
		return fmt.Errorf("cpu: prepack: w %v is not a matrix: %w", w, tensor.ErrShape)
	}
	if len(x) == 0 {
		return nil
	}
	ks := be.gemmKernels()
	n, k := w.Dim(0), w.Dim(1)
	p := &packedWeight{ks: ks, n: n, k: k}
	if ks.kernelBF16 != nil {
		p.data16, _ = packWeightsBF16(ks, x, n, k)
	}
	if p.data16 == nil {
		p.data = packWeights(ks, x, n, k)
	}
	be.packed.Store(&x[0], p)
	return nil
}

// prepacked returns the packed copy of w (N×K storage x) for ks, in float32 or in bfloat16,
// or nils.
func (be *Backend) prepacked(ks *kernels, x []float32, n, k int) ([]float32, []uint16) {
	if len(x) == 0 {
		return nil, nil
	}
	v, ok := be.packed.Load(&x[0])
	if !ok {
		return nil, nil
	}
	if p := v.(*packedWeight); p.ks == ks && p.n == n && p.k == k && len(x) == n*k {
		return p.data, p.data16
	}
	return nil, nil
}

var _ tensor.Backend = (*Backend)(nil)

// Option configures New.
type Option func(*Backend)

// WithThreads makes every operation use at most n goroutines (the caller's included). n ≤ 0
// means GOMAXPROCS, read at each call; 1 runs everything on the calling goroutine.
func WithThreads(n int) Option {
	return func(b *Backend) { b.threads = max(n, 0) }
}

// New returns the fast CPU backend. Without options it uses every core (GOMAXPROCS).
func New(opts ...Option) *Backend {
	b := &Backend{}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Name returns "cpu".
func (*Backend) Name() string { return "cpu" }

// Threads returns the most goroutines one operation of b uses.
func (be *Backend) Threads() int {
	if be.threads > 0 {
		return be.threads
	}
	return runtime.GOMAXPROCS(0)
}

// ISA names the instruction set b's matrix kernels use: "avx512", "avx2" or "go".
func (be *Backend) ISA() string { return be.gemmKernels().name }

// gemmKernels returns the matrix kernels b runs: the fastest this CPU supports unless a test
// forced others.
func (be *Backend) gemmKernels() *kernels {
	if be.kernels != nil {
		return be.kernels
	}
	return bestKernels
}

var bestKernels = supportedKernels()[0]

// Alloc returns a zero-filled tensor. Only tensor.F32 is supported.
func (*Backend) Alloc(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	return alloc(dt, shape)
}

// FromFloat32 copies data into a new tensor of the given shape.
func (*Backend) FromFloat32(dt tensor.DType, data []float32, shape ...int) (*tensor.Tensor, error) {
	return fromFloat32(dt, data, shape)
}

// ToFloat32 returns a copy of t's elements.
func (*Backend) ToFloat32(t *tensor.Tensor) ([]float32, error) { return toFloat32(t) }

// ReadFloat32 copies t's elements into dst (tensor.Reader).
func (*Backend) ReadFloat32(dst []float32, t *tensor.Tensor) error { return readFloat32(dst, t) }

// Sync returns ctx.Err(): every operation runs synchronously, its threads joined on return.
func (*Backend) Sync(ctx context.Context) error { return ctx.Err() }

// Reference is the reference CPU backend: plain loops, one goroutine, the parity oracle for
// Backend and for other backends. The zero value is ready to use.
type Reference struct{}

var _ tensor.Backend = (*Reference)(nil)

// NewReference returns the reference CPU backend.
func NewReference() *Reference { return &Reference{} }

// Name returns "cpu-reference".
func (*Reference) Name() string { return "cpu-reference" }

// Alloc returns a zero-filled tensor. Only tensor.F32 is supported.
func (*Reference) Alloc(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	return alloc(dt, shape)
}

// FromFloat32 copies data into a new tensor of the given shape.
func (*Reference) FromFloat32(dt tensor.DType, data []float32, shape ...int) (*tensor.Tensor, error) {
	return fromFloat32(dt, data, shape)
}

// ToFloat32 returns a copy of t's elements.
func (*Reference) ToFloat32(t *tensor.Tensor) ([]float32, error) { return toFloat32(t) }

// ReadFloat32 copies t's elements into dst (tensor.Reader).
func (*Reference) ReadFloat32(dst []float32, t *tensor.Tensor) error { return readFloat32(dst, t) }

// Sync returns ctx.Err(): the reference backend runs every operation synchronously.
func (*Reference) Sync(ctx context.Context) error { return ctx.Err() }

// alloc returns a zero-filled F32 tensor; both backends share tensors freely.
func alloc(dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	if dt != tensor.F32 {
		return nil, fmt.Errorf("cpu: alloc %v: %w", dt, tensor.ErrDType)
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, fmt.Errorf("cpu: alloc: %w", err)
	}
	return tensor.New(dt, shape, make([]float32, n))
}

func fromFloat32(dt tensor.DType, data []float32, shape []int) (*tensor.Tensor, error) {
	t, err := alloc(dt, shape)
	if err != nil {
		return nil, err
	}
	if len(data) != t.Len() {
		return nil, fmt.Errorf("cpu: from float32: %d values for shape %v: %w", len(data), shape, tensor.ErrShape)
	}
	copy(t.Data().([]float32), data)
	return t, nil
}

func toFloat32(t *tensor.Tensor) ([]float32, error) {
	x, err := data(t, "t")
	if err != nil {
		return nil, fmt.Errorf("cpu: to float32: %w", err)
	}
	return slices.Clone(x), nil
}

func readFloat32(dst []float32, t *tensor.Tensor) error {
	x, err := data(t, "t")
	if err != nil {
		return fmt.Errorf("cpu: read float32: %w", err)
	}
	if len(dst) != len(x) {
		return fmt.Errorf("cpu: read float32: %v into %d values: %w", t, len(dst), tensor.ErrShape)
	}
	copy(dst, x)
	return nil
}

// data returns t's storage after checking that t is a well-formed F32 tensor of this backend.
func data(t *tensor.Tensor, name string) ([]float32, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is nil: %w", name, tensor.ErrArgument)
	}
	if t.DType() != tensor.F32 {
		return nil, fmt.Errorf("%s is %v: %w", name, t.DType(), tensor.ErrDType)
	}
	x, ok := t.Data().([]float32)
	if !ok || len(x) != t.Len() {
		return nil, fmt.Errorf("%s storage is not a cpu []float32 of %d elements: %w", name, t.Len(), tensor.ErrArgument)
	}
	return x, nil
}

// dstName names the destination operand in error messages.
const dstName = "dst"

// operand names a tensor argument for error messages.
type operand struct {
	name string
	t    *tensor.Tensor
}

// data3 checks three operands at once and returns their storage in order.
func data3(a, b, c operand) (x, y, z []float32, err error) {
	if x, err = data(a.t, a.name); err != nil {
		return nil, nil, nil, err
	}
	if y, err = data(b.t, b.name); err != nil {
		return nil, nil, nil, err
	}
	if z, err = data(c.t, c.name); err != nil {
		return nil, nil, nil, err
	}
	return x, y, z, nil
}

// sameShape reports an ErrShape error unless every tensor has the shape of the first.
func sameShape(ts ...operand) error {
	for _, o := range ts[1:] {
		if !slices.Equal(o.t.Shape(), ts[0].t.Shape()) {
			return fmt.Errorf("%s %v, %s %v: %w", ts[0].name, ts[0].t, o.name, o.t, tensor.ErrShape)
		}
	}
	return nil
}

// shared reports whether two storage slices start at the same element; CPU tensors either
// share all of their storage (a Reshape view) or none of it.
func shared(a, b []float32) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// noAlias returns an ErrArgument error if dst shares storage with an input.
func noAlias(dst []float32, inputs ...[]float32) error {
	for _, in := range inputs {
		if shared(dst, in) {
			return fmt.Errorf("dst overlaps an input: %w", tensor.ErrArgument)
		}
	}
	return nil
}
