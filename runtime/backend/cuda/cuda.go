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
	"context"
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
	cublas "gorgonia.org/cu/blas"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// Precision selects how weights are stored and multiplied; see the package documentation.
type Precision int

const (
	// PrecisionBF16 stores prepacked weights in BF16 and multiplies on tensor cores.
	PrecisionBF16 Precision = iota
	// PrecisionF32 keeps every tensor in F32 and multiplies with SGEMM.
	PrecisionF32
)

func (p Precision) String() string {
	if p == PrecisionF32 {
		return "f32"
	}
	return "bf16"
}

type options struct {
	device    int
	precision Precision
}

// Option configures New.
type Option func(*options)

// WithDevice selects the GPU by ordinal (default 0).
func WithDevice(ordinal int) Option { return func(o *options) { o.device = ordinal } }

// WithPrecision selects the weight precision (default PrecisionBF16).
func WithPrecision(p Precision) Option { return func(o *options) { o.precision = p } }

// Backend runs tensor operations on one GPU. Create it with New and Close it when done.
type Backend struct {
	ctx       *cu.Ctx
	name      string
	precision Precision
	k         *kernels
	sgemm     *cublas.Standard
	gemmEx    gemmExHandle
	// Scratch device memory, used inside one submitted closure at a time: indices and
	// positions (int64), the attention key mask (bytes) and the BF16 copy of a GEMM's
	// activation operand.
	ids, mask, act scratch
}

// New opens the GPU, loads the kernels and creates the cuBLAS handles.
func New(opts ...Option) (*Backend, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.precision != PrecisionBF16 && o.precision != PrecisionF32 {
		return nil, fmt.Errorf("cuda: precision %d: %w", o.precision, tensor.ErrArgument)
	}
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: count devices: %w", err)
	}
	if o.device < 0 || o.device >= n {
		return nil, fmt.Errorf("cuda: device %d: this machine has %d GPU(s): %w", o.device, n, tensor.ErrArgument)
	}
	dev, err := cu.GetDevice(o.device)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", o.device, err)
	}
	major, minor, err := dev.ComputeCapability()
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: compute capability: %w", o.device, err)
	}
	if major < 8 {
		return nil, fmt.Errorf("cuda: device %d has compute capability %d.%d; the kernels need 8.0 or later (A100, H100): %w",
			o.device, major, minor, tensor.ErrArgument)
	}
	model, err := dev.Name()
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: name: %w", o.device, err)
	}
	// cu.NewContext panics on failure instead of returning an error.
	var ctx *cu.Ctx
	if err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("cuda: create a context on device %d: %v", o.device, r)
			}
		}()
		ctx = cu.NewContext(dev, cu.SchedBlockingSync)
		return nil
	}(); err != nil {
		return nil, err
	}
	b := &Backend{ctx: ctx, name: fmt.Sprintf("cuda:%d (%s, sm_%d%d, %v)", o.device, model, major, minor, o.precision), precision: o.precision}
	err = ctx.Do(func() error {
		var err error
		if b.k, err = loadKernels(major); err != nil {
			return err
		}
		if b.sgemm, err = newSgemm(); err != nil {
			return err
		}
		b.gemmEx, err = newGemmEx()
		return err
	})
	if err != nil {
		_ = ctx.Close()
		return nil, err
	}
	return b, nil
}

// newSgemm creates gorgonia's cuBLAS handle; cublas.New panics on failure.
func newSgemm() (s *cublas.Standard, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cuda: create the cuBLAS handle: %v", r)
		}
	}()
	return cublas.New(), nil
}

// Close frees the scratch memory, the cuBLAS handles and the context. Tensors of b must not be
// used afterwards.
func (b *Backend) Close() error {
	if b.ctx == nil {
		return nil
	}
	err := b.ctx.Do(func() error {
		b.ids.free()
		b.mask.free()
		b.act.free()
		b.gemmEx.destroy()
		return b.sgemm.Close()
	})
	if cerr := b.ctx.Close(); err == nil {
		err = cerr
	}
	b.ctx = nil
	return err
}

// Name identifies the device: "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, bf16)".
func (b *Backend) Name() string { return b.name }

// Precision reports the weight precision.
func (b *Backend) Precision() Precision { return b.precision }

// do runs fn on the context's thread.
func (b *Backend) do(fn func() error) error {
	if b.ctx == nil {
		return fmt.Errorf("cuda: backend is closed: %w", tensor.ErrArgument)
	}
	return b.ctx.Do(fn)
}

// Alloc returns a zero-filled tensor.
func (b *Backend) Alloc(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	n, err := checkNew(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("cuda: alloc: %w", err)
	}
	var buf *buffer
	err = b.do(func() error {
		var err error
		if buf, err = allocate(n, false); err != nil {
			return err
		}
		if n > 0 {
			if err := cu.MemsetD32(buf.ptr, 0, int64(n)); err != nil {
				_ = buf.release()
				return fmt.Errorf("cuda: alloc: clear %d elements: %w", n, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tensor.New(dt, shape, buf)
}

// FromFloat32 copies host data into a new tensor.
func (b *Backend) FromFloat32(dt tensor.DType, data []float32, shape ...int) (*tensor.Tensor, error) {
	n, err := checkNew(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("cuda: from float32: %w", err)
	}
	if len(data) != n {
		return nil, fmt.Errorf("cuda: from float32: %d values for shape %v: %w", len(data), shape, tensor.ErrShape)
	}
	var buf *buffer
	err = b.do(func() error {
		var err error
		if buf, err = allocate(n, false); err != nil {
			return err
		}
		if n > 0 {
			if err := cu.MemcpyHtoD(buf.ptr, unsafe.Pointer(&data[0]), int64(4*n)); err != nil {
				_ = buf.release()
				return fmt.Errorf("cuda: from float32: copy %d values to the device: %w", n, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tensor.New(dt, shape, buf)
}

// ToFloat32 waits for the work queued before it and copies t to the host.
func (b *Backend) ToFloat32(t *tensor.Tensor) ([]float32, error) {
	if _, err := f32(t, "t"); err != nil {
		return nil, fmt.Errorf("cuda: to float32: %w", err)
	}
	out := make([]float32, t.Len())
	if err := b.ReadFloat32(out, t); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadFloat32 waits for the work queued before it and copies t into dst (t.Len() values).
func (b *Backend) ReadFloat32(dst []float32, t *tensor.Tensor) error {
	buf, err := f32(t, "t")
	if err != nil {
		return fmt.Errorf("cuda: read float32: %w", err)
	}
	if len(dst) != t.Len() {
		return fmt.Errorf("cuda: read float32: %d values into a buffer of %d: %w", t.Len(), len(dst), tensor.ErrShape)
	}
	return b.do(func() error {
		if len(dst) == 0 {
			return kernelError(cu.Synchronize())
		}
		// A synchronous copy on the default stream: it waits for every kernel before it.
		if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), buf.ptr, int64(4*len(dst))); err != nil {
			return fmt.Errorf("cuda: read float32: copy %d values to the host: %w", len(dst), err)
		}
		return nil
	})
}

// Sync waits until all queued work has finished and reports an error a kernel raised. A CUDA
// wait cannot be interrupted: ctx is checked before it starts.
func (b *Backend) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.do(func() error { return kernelError(cu.Synchronize()) })
}

// kernelError wraps an error a synchronisation reports: it comes from some earlier launch.
func kernelError(err error) error {
	if err != nil {
		return fmt.Errorf("cuda: a queued operation failed: %w", err)
	}
	return nil
}

// Release frees t's device memory. t and its views must not be used afterwards; releasing a
// view frees the whole allocation it belongs to.
func (b *Backend) Release(t *tensor.Tensor) error {
	if t == nil {
		return nil
	}
	buf, ok := t.Data().(*buffer)
	if !ok {
		return fmt.Errorf("cuda: release %v: not a cuda tensor: %w", t, tensor.ErrArgument)
	}
	return b.do(func() error { return buf.release() })
}

// Prepack stores a projection weight in BF16 under PrecisionBF16, once: MatMul then reads it
// with cublasGemmEx. Under PrecisionF32 it does nothing. w must not be modified afterwards, and
// only MatMul (as its b operand) and Release accept it.
func (b *Backend) Prepack(w *tensor.Tensor) error {
	buf, err := storage(w, "w")
	if err != nil {
		return fmt.Errorf("cuda: prepack: %w", err)
	}
	if b.precision != PrecisionBF16 || buf.bf16 || buf.n == 0 {
		return nil
	}
	if !buf.whole() {
		return fmt.Errorf("cuda: prepack %v: a view of a larger allocation: %w", w, tensor.ErrArgument)
	}
	return b.do(func() error {
		half, err := allocate(buf.n, true)
		if err != nil {
			return err
		}
		if err := b.k.launch1D(b.k.f32ToBF16, buf.n, half.ptr, buf.ptr, buf.n); err != nil {
			_ = half.release()
			return fmt.Errorf("cuda: prepack %v: %w", w, err)
		}
		// The F32 copy is freed only after the conversion has run.
		if err := cu.Synchronize(); err != nil {
			_ = half.release()
			return kernelError(err)
		}
		_ = buf.release()
		buf.adopt(half)
		return nil
	})
}

var (
	_ tensor.Backend   = (*Backend)(nil)
	_ tensor.Prepacker = (*Backend)(nil)
	_ tensor.Releaser  = (*Backend)(nil)
	_ tensor.Reader    = (*Backend)(nil)
)
