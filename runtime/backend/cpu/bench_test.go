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
	"fmt"
	"math/rand/v2"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// sgemmShapes are the benchmarked M×N×K problems: A is M×K, B is N×K (the weight layout).
// BenchmarkOpenBLASSgemm (-tags openblas) uses the same shapes and sub-benchmark names.
var sgemmShapes = [][3]int{{512, 1024, 1024}, {128, 4096, 4096}}

// benchSgemm runs one sub-benchmark per shape and thread count; mul computes c = a·bᵀ.
func benchSgemm(b *testing.B, mul func(threads, m, n, k int, a, w, c []float32)) {
	for _, s := range sgemmShapes {
		m, n, k := s[0], s[1], s[2]
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", m, n, k, threads), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				a, w, c := normals(r, m*k), normals(r, n*k), make([]float32, m*n)
				for b.Loop() {
					mul(threads, m, n, k, a, w, c)
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSgemm measures Backend.MatMul (the fast SGEMM, C = A·Bᵀ).
func BenchmarkSgemm(b *testing.B) {
	benchSgemm(b, func(threads, m, n, k int, a, w, c []float32) {
		be := New(WithThreads(threads))
		at, _ := tensor.New(tensor.F32, []int{m, k}, a)
		wt, _ := tensor.New(tensor.F32, []int{n, k}, w)
		ct, _ := tensor.New(tensor.F32, []int{m, n}, c)
		if err := be.MatMul(ct, at, wt); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkAttention measures Backend.Attention on Lq = Lk = 1024, H = Hkv = 8, Dh = 64,
// counting the two matrix products (4·Lq·Lk·Dh·H flops).
func BenchmarkAttention(b *testing.B) {
	const lq, lk, heads, dh = 1024, 1024, 8, 64
	r := rand.New(rand.NewPCG(3, 4))
	q, _ := tensor.New(tensor.F32, []int{lq, heads, dh}, normals(r, lq*heads*dh))
	k, _ := tensor.New(tensor.F32, []int{lk, heads, dh}, normals(r, lk*heads*dh))
	v, _ := tensor.New(tensor.F32, []int{lk, heads, dh}, normals(r, lk*heads*dh))
	dst, _ := tensor.New(tensor.F32, []int{lq, heads, dh}, make([]float32, lq*heads*dh))
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("%dx%dx%dx%d/threads=%d", lq, lk, heads, dh, threads), func(b *testing.B) {
			be := New(WithThreads(threads))
			for b.Loop() {
				if err := be.Attention(dst, q, k, v, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(4*lq*lk*dh*heads*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkAttentionForms times both attention forms on dLLM-Cache shapes: a few recomputed
// queries (Lq) against every cached key (Lk), H = Hkv = 8, Dh = 64, on every core. Attention
// picks attendFew up to fewQueries queries; the crossover in these numbers is where it should.
func BenchmarkAttentionForms(b *testing.B) {
	const heads, dh = 8, 64
	be := New()
	for _, lk := range []int{768, 1024, 4128} {
		for _, lq := range []int{8, 33, 64, 96, 128, 257, 1024, 4128} {
			r := rand.New(rand.NewPCG(3, 4))
			q, _ := tensor.New(tensor.F32, []int{lq, heads, dh}, normals(r, lq*heads*dh))
			k, _ := tensor.New(tensor.F32, []int{lk, heads, dh}, normals(r, lk*heads*dh))
			v, _ := tensor.New(tensor.F32, []int{lk, heads, dh}, normals(r, lk*heads*dh))
			dst, _ := tensor.New(tensor.F32, []int{lq, heads, dh}, make([]float32, lq*heads*dh))
			a, err := checkAttention(dst, q, k, v, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, few := range []bool{true, false} {
				form := "blocks"
				if few {
					form = "few"
				}
				b.Run(fmt.Sprintf("lq=%d/lk=%d/%s", lq, lk, form), func(b *testing.B) {
					for b.Loop() {
						be.attention(a, nil, few)
					}
					b.ReportMetric(4*float64(lq*lk*dh*heads)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
