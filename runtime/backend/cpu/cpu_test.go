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

package cpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/tensor/tensortest"
)

func TestConformance(t *testing.T) {
	tensortest.Run(t, cpu.NewReference())
	tensortest.Run(t, cpu.New())
	tensortest.Run(t, cpu.New(cpu.WithThreads(1)))
}

// FuzzMatMul compares the fast backend's MatMul on random small shapes with a naive float64
// product. The bound is the classic forward error of an fp32 dot product,
// |err| ≤ (K+1)·u·Σ|a·b| with u = 2⁻²⁴.
func FuzzMatMul(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), uint64(0))
	f.Add(uint8(3), uint8(5), uint8(4), uint64(1))
	f.Add(uint8(17), uint8(2), uint8(64), uint64(2))
	f.Fuzz(func(t *testing.T, m, n, k uint8, seed uint64) {
		rows, cols, inner := int(m%48), int(n%80), int(k%160)
		r := rand.New(rand.NewPCG(seed, 1))
		av, bv := randoms(r, rows*inner), randoms(r, cols*inner)
		b := cpu.New()
		a, err := b.FromFloat32(tensor.F32, av, rows, inner)
		if err != nil {
			t.Fatal(err)
		}
		w, err := b.FromFloat32(tensor.F32, bv, cols, inner)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := b.Alloc(tensor.F32, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.MatMul(dst, a, w); err != nil {
			t.Fatalf("MatMul(dst[%d %d], a[%d %d], b[%d %d]) = %v", rows, cols, rows, inner, cols, inner, err)
		}
		got, err := b.ToFloat32(dst)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			for j := range cols {
				var want, mag float64
				for e := range inner {
					p := float64(av[i*inner+e]) * float64(bv[j*inner+e])
					want += p
					mag += math.Abs(p)
				}
				bound := float64(inner+1) * 0x1p-24 * mag
				if d := math.Abs(float64(got[i*cols+j]) - want); d > bound {
					t.Errorf("MatMul[%d][%d] = %v, want %v (error %g > bound %g)", i, j, got[i*cols+j], want, d, bound)
				}
			}
		}
	})
}

func randoms(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}
