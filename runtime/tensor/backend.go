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
	"context"
	"fmt"
)

// Backend executes tensor operations on one device. It holds exactly the operations a LLaDA or
// Dream forward pass needs. Implementations must pass tensortest.Run.
//
// Every operation checks its operands first and returns an error wrapping [ErrShape],
// [ErrDType] or [ErrArgument] without writing anything; it never panics on bad input. A
// destination must already be allocated with the documented shape. Unless an operation says
// otherwise, dst may be the same tensor as an input of the same shape (in-place use), and must
// not otherwise overlap an input.
type Backend interface {
	// Name identifies the backend in logs and test names, for example "cpu".
	Name() string

	// Alloc returns a zero-filled tensor of dtype dt and the given shape.
	Alloc(dt DType, shape ...int) (*Tensor, error)

	// FromFloat32 copies host data into a new tensor of dtype dt and the given shape;
	// len(data) must equal the product of shape.
	FromFloat32(dt DType, data []float32, shape ...int) (*Tensor, error)

	// ToFloat32 waits for pending work that writes t and copies t to a new host slice of
	// t.Len() elements.
	ToFloat32(t *Tensor) ([]float32, error)

	// MatMul computes dst = a · bᵀ with b in PyTorch's [out, in] layout:
	// a (M, K), b (N, K), dst (M, N), dst[m][n] = Σ_k a[m][k]·b[n][k].
	// dst must not overlap a or b.
	MatMul(dst, a, b *Tensor) error

	// Add computes the residual dst[i] = a[i] + b[i]; a, b and dst have the same shape.
	Add(dst, a, b *Tensor) error

	// AddBias computes dst[r][j] = x[r][j] + bias[j] over the last dimension:
	// x and dst (..., N), bias (N).
	AddBias(dst, x, bias *Tensor) error

	// RMSNorm normalises each row of x over its last dimension and scales it by w:
	// x and dst (..., D), w (D). Per row, in fp32:
	//	y = x / sqrt(mean(x²) + eps), cast to x's dtype, then dst = y · w.
	RMSNorm(dst, x, w *Tensor, eps float32) error

	// RoPE rotates x (L, H, Dh) in place with rotate-half (GPT-NeoX style) rotary embeddings.
	// Row l uses position positions[l] (len(positions) == L, positions ≥ 0, need not be
	// contiguous). With fp32 tables invFreq[i] = 1/theta^(2i/Dh), i < Dh/2, and
	// angle = positions[l]·invFreq[i]:
	//	x1, x2 = x[l][h][i], x[l][h][i+Dh/2]
	//	x[l][h][i]      = x1·cos(angle) − x2·sin(angle)
	//	x[l][h][i+Dh/2] = x2·cos(angle) + x1·sin(angle)
	// Dh must be even and theta positive.
	RoPE(x *Tensor, positions []int, theta float64) error

	// Attention computes bidirectional (non-causal) scaled dot-product attention with grouped
	// key/value heads: q and dst (Lq, H, Dh), k and v (Lk, Hkv, Dh), Hkv divides H, and query
	// head h reads key/value head h/(H/Hkv). keyMask, if non-nil, has Lk entries and
	// keyMask[j] == false hides key j from every query; at least one key must stay visible.
	//	s[j]   = Σ_d q[i][h][d]·k[j][g][d] / sqrt(Dh)   for visible j
	//	p      = softmax(s)
	//	dst[i][h][d] = Σ_j p[j]·v[j][g][d]
	// dst must not overlap q, k or v.
	Attention(dst, q, k, v *Tensor, keyMask []bool) error

	// SiLUMul computes the gated MLP activation dst[i] = silu(gate[i])·up[i], with
	// silu(x) = x/(1+exp(−x)); gate, up and dst have the same shape.
	SiLUMul(dst, gate, up *Tensor) error

	// Softmax computes dst = softmax(x) over the last dimension, subtracting the row maximum
	// first; x and dst have the same shape.
	Softmax(dst, x *Tensor) error

	// Gather copies embedding rows: table (V, D), dst (len(ids), D), dst[r] = table[ids[r]],
	// 0 ≤ ids[r] < V. dst must not overlap table.
	Gather(dst, table *Tensor, ids []int) error

	// Scatter copies rows into dst, the inverse of Gather: dst (R, D), src (len(ids), D),
	// dst[ids[r]] = src[r], 0 ≤ ids[r] < R, ids distinct; other rows of dst are untouched.
	// dst must not overlap src. A feature cache uses it to write recomputed tokens back.
	Scatter(dst, src *Tensor, ids []int) error

	// Cosine computes the cosine similarity of matching rows: a and b (N, D), dst (N),
	// as PyTorch's cosine_similarity with eps = 1e-8, in fp32:
	//	dst[i] = Σ a[i]·b[i] / sqrt(max(Σ a[i]² · Σ b[i]², eps²))
	// dst must not overlap a or b.
	Cosine(dst, a, b *Tensor) error

	// Sync waits until all queued work has finished, or ctx is done.
	Sync(ctx context.Context) error
}

// Prepacker is implemented by backends that can store a constant matrix, once, in the layout
// their MatMul reads its b operand in, instead of rearranging it on every call. Model code
// prepacks its weights after loading them; a prepacked tensor must not be modified afterwards.
type Prepacker interface {
	Prepack(w *Tensor) error
}

// Releaser is implemented by backends whose tensors hold memory the Go garbage collector does
// not manage (device memory). Release frees t's storage; t and every view of it must not be
// used afterwards.
type Releaser interface {
	Release(t *Tensor) error
}

// Release frees t's storage if b implements [Releaser], and does nothing otherwise (the CPU
// backend's tensors are ordinary Go memory).
func Release(b Backend, t *Tensor) error {
	if r, ok := b.(Releaser); ok {
		return r.Release(t)
	}
	return nil
}

// Reader is implemented by backends that can copy a tensor's elements into memory the caller
// owns, so a caller that reads results on every step (a session's logits) reuses one buffer
// instead of receiving a new copy each time.
type Reader interface {
	// ReadFloat32 copies t's elements into dst, which must hold exactly t.Len() values.
	ReadFloat32(dst []float32, t *Tensor) error
}

// ReadFloat32 copies t's elements into dst (exactly t.Len() values) with b's [Reader], or
// through [Backend.ToFloat32] when b has none.
func ReadFloat32(b Backend, dst []float32, t *Tensor) error {
	if r, ok := b.(Reader); ok {
		return r.ReadFloat32(dst, t)
	}
	x, err := b.ToFloat32(t)
	if err != nil {
		return err
	}
	if len(x) != len(dst) {
		return fmt.Errorf("read %v into %d values: %w", t, len(dst), ErrShape)
	}
	copy(dst, x)
	return nil
}
