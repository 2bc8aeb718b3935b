//go:build cuda

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

package cuda

import (
	"fmt"
	"slices"

	"gorgonia.org/cu"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// allocation is one cuMemAlloc block; the views of a tensor share it.
type allocation struct {
	ptr   cu.DevicePtr
	bytes int
	freed bool
}

// buffer is a tensor's storage handle: n elements at ptr, inside alloc. bf16 marks a
// prepacked weight, whose elements are 2-byte BF16 values instead of F32.
type buffer struct {
	ptr   cu.DevicePtr
	n     int
	bf16  bool
	alloc *allocation
}

// elemSize is the size in bytes of one element of the buffer.
func (b *buffer) elemSize() int {
	if b.bf16 {
		return 2
	}
	return 4
}

// View returns elements [from, to) of the buffer, sharing its allocation (tensor.Viewer).
func (b *buffer) View(from, to int) any {
	return &buffer{ptr: b.ptr + cu.DevicePtr(from*b.elemSize()), n: to - from, bf16: b.bf16, alloc: b.alloc}
}

// whole reports whether the buffer spans its allocation.
func (b *buffer) whole() bool {
	return b.ptr == b.alloc.ptr && b.n*b.elemSize() == b.alloc.bytes
}

// adopt makes b the storage of h (same element count), for Prepack's in-place conversion: the
// tensor and its reshaped views hold b, so they all see the new storage.
func (b *buffer) adopt(h *buffer) { b.ptr, b.bf16, b.alloc = h.ptr, h.bf16, h.alloc }

// release frees the allocation once; later calls do nothing. It runs on the context's thread.
func (b *buffer) release() error {
	a := b.alloc
	if a.freed {
		return nil
	}
	a.freed = true
	if a.bytes == 0 {
		return nil
	}
	if err := cu.MemFree(a.ptr); err != nil {
		return fmt.Errorf("cuda: free %d bytes: %w", a.bytes, err)
	}
	return nil
}

// span returns the byte range [lo, hi) of the buffer.
func (b *buffer) span() (lo, hi uintptr) {
	lo = uintptr(b.ptr)
	return lo, lo + uintptr(b.n*b.elemSize())
}

// allocate returns a new buffer of n elements (F32, or BF16 if half); it runs on the context's
// thread. An empty buffer holds no device memory.
func allocate(n int, half bool) (*buffer, error) {
	b := &buffer{n: n, bf16: half}
	bytes := n * b.elemSize()
	b.alloc = &allocation{bytes: bytes}
	if bytes == 0 {
		return b, nil
	}
	ptr, err := cu.MemAlloc(int64(bytes))
	if err != nil {
		return nil, fmt.Errorf("cuda: allocate %d bytes: %w", bytes, err)
	}
	b.ptr, b.alloc.ptr = ptr, ptr
	return b, nil
}

// scratch is device memory reused from call to call, grown when a call needs more.
type scratch struct{ b *buffer }

// bytes returns at least n bytes of scratch, reallocating if it is smaller; queued work that
// may still read the old memory finishes first.
func (s *scratch) bytes(n int) (cu.DevicePtr, error) {
	if s.b != nil && s.b.alloc.bytes >= n {
		return s.b.ptr, nil
	}
	if s.b != nil {
		if err := cu.Synchronize(); err != nil {
			return 0, kernelError(err)
		}
	}
	s.free()
	b, err := allocate((max(n, 256)+3)/4, false)
	if err != nil {
		return 0, err
	}
	s.b = b
	return b.ptr, nil
}

func (s *scratch) free() {
	if s.b != nil {
		_ = s.b.release()
		s.b = nil
	}
}

// checkNew validates Alloc's and FromFloat32's dtype and shape and returns the element count.
func checkNew(dt tensor.DType, shape []int) (int, error) {
	if dt != tensor.F32 {
		return 0, fmt.Errorf("dtype %v: %w", dt, tensor.ErrDType)
	}
	return tensor.NumElements(shape)
}

// storage returns t's buffer after checking that t is a live F32 tensor of this backend; a
// prepacked BF16 weight passes too (see f32).
func storage(t *tensor.Tensor, name string) (*buffer, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is nil: %w", name, tensor.ErrArgument)
	}
	if t.DType() != tensor.F32 {
		return nil, fmt.Errorf("%s is %v: %w", name, t.DType(), tensor.ErrDType)
	}
	b, ok := t.Data().(*buffer)
	if !ok || b.alloc == nil || b.n != t.Len() {
		return nil, fmt.Errorf("%s storage is not cuda memory of %d elements: %w", name, t.Len(), tensor.ErrArgument)
	}
	if b.alloc.freed {
		return nil, fmt.Errorf("%s %v was released: %w", name, t, tensor.ErrArgument)
	}
	return b, nil
}

// f32 is storage for operands that must hold F32 elements: every operand but MatMul's b.
func f32(t *tensor.Tensor, name string) (*buffer, error) {
	b, err := storage(t, name)
	if err != nil {
		return nil, err
	}
	if b.bf16 {
		return nil, fmt.Errorf("%s %v is a prepacked BF16 weight, which only MatMul reads: %w", name, t, tensor.ErrArgument)
	}
	return b, nil
}

// dstName names the destination operand in error messages.
const dstName = "dst"

// operand names a tensor argument for error messages.
type operand struct {
	name string
	t    *tensor.Tensor
}

// f32s checks every operand with f32 and returns their buffers in order.
func f32s(ops ...operand) ([]*buffer, error) {
	bufs := make([]*buffer, len(ops))
	for i, o := range ops {
		b, err := f32(o.t, o.name)
		if err != nil {
			return nil, err
		}
		bufs[i] = b
	}
	return bufs, nil
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

// overlap reports whether two buffers share any byte.
func overlap(a, b *buffer) bool {
	alo, ahi := a.span()
	blo, bhi := b.span()
	return alo < bhi && blo < ahi
}

// noAlias returns an ErrArgument error if dst shares memory with an input.
func noAlias(dst *buffer, inputs ...*buffer) error {
	for _, in := range inputs {
		if overlap(dst, in) {
			return fmt.Errorf("dst overlaps an input: %w", tensor.ErrArgument)
		}
	}
	return nil
}

// inPlaceOrApart returns an ErrArgument error if dst overlaps an input without being exactly
// that input (in-place use is allowed, a shifted overlap is not).
func inPlaceOrApart(dst *buffer, inputs ...*buffer) error {
	for _, in := range inputs {
		if overlap(dst, in) && (dst.ptr != in.ptr || dst.n != in.n) {
			return fmt.Errorf("dst partly overlaps an input: %w", tensor.ErrArgument)
		}
	}
	return nil
}
