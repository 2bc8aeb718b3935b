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

package cuda_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/backend/cuda"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/tensor/tensortest"
)

// These tests need a GPU: a test binary built with -tags cuda exits at start-up on a machine
// without one (gorgonia.org/cu's initialiser). hack/gpu-check.sh runs them.

var (
	open    sync.Once
	f32, bf *cuda.Backend
	openErr error
)

// backends returns GPU 0 in both precisions, opened once for the test binary.
func backends(t *testing.T) (*cuda.Backend, *cuda.Backend) {
	t.Helper()
	open.Do(func() {
		if f32, openErr = cuda.New(cuda.WithPrecision(cuda.PrecisionF32)); openErr != nil {
			return
		}
		bf, openErr = cuda.New(cuda.WithPrecision(cuda.PrecisionBF16))
	})
	if openErr != nil {
		t.Fatalf("open the CUDA backend: %v", openErr)
	}
	return f32, bf
}

// The tensor suite: every operation against float64 references, its errors and transfers.
func TestTensorSuite(t *testing.T) {
	b, _ := backends(t)
	t.Log(b.Name())
	tensortest.Run(t, b)
}

// roundBF16 rounds x to the nearest BF16 value, ties to even, as the conversion kernel does.
func roundBF16(x float32) float32 {
	u := math.Float32bits(x)
	u += 0x7fff + (u>>16)&1
	return math.Float32frombits(u &^ 0xffff)
}

func randomBF16(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = roundBF16(float32(r.NormFloat64()))
	}
	return x
}

// A prepacked weight multiplies on tensor cores: the result is the fp32 product of the
// BF16-rounded activations and the BF16 weights (each product of two BF16 values is exact in
// fp32), so it differs from the CPU reference on those operands only in summation order.
func TestBF16MatMul(t *testing.T) {
	_, b := backends(t)
	ref := cpu.NewReference()
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {7, 33, 64}, {37, 96, 200}, {130, 257, 320}} {
		t.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(t *testing.T) {
			a := make([]float32, s.m*s.k)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			w := randomBF16(r, s.n*s.k)
			ga, err := b.FromFloat32(tensor.F32, a, s.m, s.k)
			if err != nil {
				t.Fatal(err)
			}
			gw, err := b.FromFloat32(tensor.F32, w, s.n, s.k)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Prepack(gw); err != nil {
				t.Fatal(err)
			}
			gd, err := b.Alloc(tensor.F32, s.m, s.n)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.MatMul(gd, ga, gw); err != nil {
				t.Fatal(err)
			}
			got, err := b.ToFloat32(gd)
			if err != nil {
				t.Fatal(err)
			}
			rounded := make([]float32, len(a))
			for i, v := range a {
				rounded[i] = roundBF16(v)
			}
			ca, _ := ref.FromFloat32(tensor.F32, rounded, s.m, s.k)
			cw, _ := ref.FromFloat32(tensor.F32, w, s.n, s.k)
			cd, _ := ref.Alloc(tensor.F32, s.m, s.n)
			if err := ref.MatMul(cd, ca, cw); err != nil {
				t.Fatal(err)
			}
			want, _ := ref.ToFloat32(cd)
			for i := range want {
				row, col := i/s.n, i%s.n
				var mag float64
				for k := range s.k {
					mag += math.Abs(float64(rounded[row*s.k+k]) * float64(w[col*s.k+k]))
				}
				// Both sums are fp32: each within (K+1)·2⁻²⁴·Σ|a·b| of the exact value.
				if d := math.Abs(float64(got[i]) - float64(want[i])); d > 2*float64(s.k+1)*0x1p-24*mag {
					t.Fatalf("dst[%d][%d] = %v, want %v (|a·b| sum %g)", row, col, got[i], want[i], mag)
				}
			}
		})
	}
}

// A prepacked BF16 weight is MatMul's operand only; any other use is refused, not misread.
func TestPrepackedWeightOnlyMultiplies(t *testing.T) {
	_, b := backends(t)
	w, err := b.FromFloat32(tensor.F32, randomBF16(rand.New(rand.NewPCG(3, 4)), 8), 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Prepack(w); err != nil {
		t.Fatal(err)
	}
	x, _ := b.Alloc(tensor.F32, 2, 4)
	if err := b.Add(x, x, w); !errors.Is(err, tensor.ErrArgument) {
		t.Errorf("Add with a prepacked weight = %v, want ErrArgument", err)
	}
	if _, err := b.ToFloat32(w); !errors.Is(err, tensor.ErrArgument) {
		t.Errorf("ToFloat32 of a prepacked weight = %v, want ErrArgument", err)
	}
}

// A released tensor is refused with ErrArgument instead of touching freed device memory.
func TestReleasedTensor(t *testing.T) {
	b, _ := backends(t)
	x, err := b.FromFloat32(tensor.F32, []float32{1, 2, 3}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Release(x); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(x); err != nil {
		t.Errorf("second Release = %v, want nil", err)
	}
	if _, err := b.ToFloat32(x); !errors.Is(err, tensor.ErrArgument) {
		t.Errorf("ToFloat32 after Release = %v, want ErrArgument", err)
	}
}

// The backend is safe for concurrent use: goroutines multiplying their own operands at once
// each get their own product.
func TestConcurrentUse(t *testing.T) {
	b, _ := backends(t)
	const workers, n = 8, 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			a := make([]float32, n*n)
			for i := range n {
				a[i*n+i] = float32(g + 1) // (g+1)·I
			}
			x := make([]float32, n*n)
			for i := range x {
				x[i] = float32(i%97) - 48
			}
			ga, _ := b.FromFloat32(tensor.F32, a, n, n)
			gx, _ := b.FromFloat32(tensor.F32, x, n, n)
			gd, _ := b.Alloc(tensor.F32, n, n)
			for range 20 {
				if err := b.MatMul(gd, gx, ga); err != nil {
					errs <- err
					return
				}
			}
			got, err := b.ToFloat32(gd)
			if err != nil {
				errs <- err
				return
			}
			for i := range got {
				if got[i] != float32(g+1)*x[i] {
					errs <- fmt.Errorf("worker %d: dst[%d] = %v, want %v", g, i, got[i], float32(g+1)*x[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
