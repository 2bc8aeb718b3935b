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
	"math"
	"unsafe"

	"gorgonia.org/cu"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// Each operation checks its operands on the caller's goroutine, then queues its kernel on the
// context's thread. The kernels are in kernels/, one file per operation, and compute what the
// CPU reference (runtime/backend/cpu) documents next to each of its loops.

// uploadInts copies xs to the index scratch as int64 values; it runs on the context's thread.
// A copy from pageable host memory waits for the queued kernels first, so no kernel still
// reads the scratch it overwrites.
func (b *Backend) uploadInts(xs []int) (cu.DevicePtr, error) {
	if len(xs) == 0 {
		return 0, nil
	}
	v := make([]int64, len(xs))
	for i, x := range xs {
		v[i] = int64(x)
	}
	p, err := b.ids.bytes(8 * len(v))
	if err != nil {
		return 0, err
	}
	if err := cu.MemcpyHtoD(p, unsafe.Pointer(&v[0]), int64(8*len(v))); err != nil {
		return 0, fmt.Errorf("cuda: copy %d indices to the device: %w", len(v), err)
	}
	return p, nil
}

// Add computes dst = a + b elementwise (dst may be a or b).
func (b *Backend) Add(dst, x, y *tensor.Tensor) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"a", x}, operand{"b", y})
	if err == nil {
		err = sameShape(operand{dstName, dst}, operand{"a", x}, operand{"b", y})
	}
	if err == nil {
		err = inPlaceOrApart(bufs[0], bufs[1], bufs[2])
	}
	if err != nil {
		return fmt.Errorf("cuda: add: %w", err)
	}
	n := dst.Len()
	return b.do(func() error { return b.k.launch1D(b.k.add, n, bufs[0].ptr, bufs[1].ptr, bufs[2].ptr, n) })
}

// AddBias computes dst[r][j] = x[r][j] + bias[j] (dst may be x).
func (b *Backend) AddBias(dst, x, bias *tensor.Tensor) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"x", x}, operand{"bias", bias})
	if err == nil {
		err = sameShape(operand{dstName, dst}, operand{"x", x})
	}
	if err == nil && (x.Rank() == 0 || bias.Rank() != 1 || bias.Dim(0) != x.Dim(-1)) {
		err = fmt.Errorf("x %v, bias %v: want bias (N) for x (..., N): %w", x, bias, tensor.ErrShape)
	}
	if err == nil {
		err = inPlaceOrApart(bufs[0], bufs[1])
	}
	if err == nil {
		err = noAlias(bufs[0], bufs[2])
	}
	if err != nil {
		return fmt.Errorf("cuda: add bias: %w", err)
	}
	n := x.Dim(-1)
	rows := 0
	if n > 0 {
		rows = x.Len() / n
	}
	return b.do(func() error {
		return b.k.launch1D(b.k.addBias, rows*n, bufs[0].ptr, bufs[1].ptr, bufs[2].ptr, rows, n)
	})
}

// RMSNorm normalises each row of x and scales it by w (dst may be x).
func (b *Backend) RMSNorm(dst, x, w *tensor.Tensor, eps float32) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"x", x}, operand{"w", w})
	if err == nil {
		err = sameShape(operand{dstName, dst}, operand{"x", x})
	}
	if err == nil && (x.Rank() == 0 || w.Rank() != 1 || w.Dim(0) != x.Dim(-1)) {
		err = fmt.Errorf("x %v, w %v: want w (D) for x (..., D): %w", x, w, tensor.ErrShape)
	}
	if err == nil && (!(eps >= 0) || math.IsInf(float64(eps), 1)) {
		err = fmt.Errorf("eps %v: %w", eps, tensor.ErrArgument)
	}
	if err == nil {
		err = inPlaceOrApart(bufs[0], bufs[1])
	}
	if err == nil {
		err = noAlias(bufs[0], bufs[2])
	}
	if err != nil {
		return fmt.Errorf("cuda: rmsnorm: %w", err)
	}
	d := x.Dim(-1)
	rows := 0
	if d > 0 {
		rows = x.Len() / d
	}
	return b.do(func() error {
		return b.k.launchRows(b.k.rmsNorm, rows, bufs[0].ptr, bufs[1].ptr, bufs[2].ptr, rows, d, float64(eps))
	})
}

// RoPE rotates x (L, H, Dh) in place at the given positions.
func (b *Backend) RoPE(x *tensor.Tensor, positions []int, theta float64) error {
	buf, err := f32(x, "x")
	if err == nil && (x.Rank() != 3 || x.Dim(2)%2 != 0 || len(positions) != x.Dim(0)) {
		err = fmt.Errorf("x %v (want (L, H, even Dh)), %d positions: %w", x, len(positions), tensor.ErrShape)
	}
	if err == nil && (!(theta > 0) || math.IsInf(theta, 1)) {
		err = fmt.Errorf("theta %v: %w", theta, tensor.ErrArgument)
	}
	if err == nil {
		for l, p := range positions {
			if p < 0 {
				err = fmt.Errorf("position %d is %d: %w", l, p, tensor.ErrArgument)
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("cuda: rope: %w", err)
	}
	l, h, dh := x.Dim(0), x.Dim(1), x.Dim(2)
	return b.do(func() error {
		if l*h*dh == 0 {
			return nil
		}
		pos, err := b.uploadInts(positions)
		if err != nil {
			return err
		}
		return b.k.launch1D(b.k.rope, l*h*dh/2, buf.ptr, pos, l, h, dh, theta)
	})
}

// Attention computes bidirectional attention with grouped key/value heads, one warp per query
// and head, with an online softmax (kernels/attention.cu).
func (b *Backend) Attention(dst, q, k, v *tensor.Tensor, keyMask []bool) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"q", q}, operand{"k", k}, operand{"v", v})
	if err == nil {
		err = tensor.CheckAttention(dst, q, k, v, keyMask)
	}
	if err == nil {
		err = noAlias(bufs[0], bufs[1], bufs[2], bufs[3])
	}
	if err != nil {
		return fmt.Errorf("cuda: attention: %w", err)
	}
	lq, heads, dh, lk, kvHeads := q.Dim(0), q.Dim(1), q.Dim(2), k.Dim(0), k.Dim(1)
	return b.do(func() error {
		if lq*heads == 0 {
			return nil
		}
		var mask cu.DevicePtr
		if keyMask != nil {
			m := make([]byte, len(keyMask))
			for i, vis := range keyMask {
				if vis {
					m[i] = 1
				}
			}
			p, err := b.mask.bytes(len(m))
			if err != nil {
				return err
			}
			if err := cu.MemcpyHtoD(p, unsafe.Pointer(&m[0]), int64(len(m))); err != nil {
				return fmt.Errorf("cuda: attention: copy the key mask to the device: %w", err)
			}
			mask = p
		}
		const warps = 4 // per 128-thread block: one (query, head) pair each
		pairs := lq * heads
		return launch(b.k.attention, (pairs+warps-1)/warps, 32*warps, 0,
			bufs[0].ptr, bufs[1].ptr, bufs[2].ptr, bufs[3].ptr, mask, lq, lk, heads, kvHeads, dh, 1/math.Sqrt(float64(dh)))
	})
}

// SiLUMul computes dst = silu(gate)·up elementwise (dst may be gate or up).
func (b *Backend) SiLUMul(dst, gate, up *tensor.Tensor) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"gate", gate}, operand{"up", up})
	if err == nil {
		err = sameShape(operand{dstName, dst}, operand{"gate", gate}, operand{"up", up})
	}
	if err == nil {
		err = inPlaceOrApart(bufs[0], bufs[1], bufs[2])
	}
	if err != nil {
		return fmt.Errorf("cuda: silu mul: %w", err)
	}
	n := dst.Len()
	return b.do(func() error { return b.k.launch1D(b.k.siluMul, n, bufs[0].ptr, bufs[1].ptr, bufs[2].ptr, n) })
}

// Softmax computes dst = softmax(x) over the last dimension (dst may be x).
func (b *Backend) Softmax(dst, x *tensor.Tensor) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"x", x})
	if err == nil {
		err = sameShape(operand{dstName, dst}, operand{"x", x})
	}
	if err == nil && x.Rank() == 0 {
		err = fmt.Errorf("x %v: want at least one dimension: %w", x, tensor.ErrShape)
	}
	if err == nil {
		err = inPlaceOrApart(bufs[0], bufs[1])
	}
	if err != nil {
		return fmt.Errorf("cuda: softmax: %w", err)
	}
	n := x.Dim(-1)
	rows := 0
	if n > 0 {
		rows = x.Len() / n
	}
	return b.do(func() error { return b.k.launchRows(b.k.softmax, rows, bufs[0].ptr, bufs[1].ptr, rows, n) })
}

// Gather copies rows of table: dst[r] = table[ids[r]].
func (b *Backend) Gather(dst, table *tensor.Tensor, ids []int) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"table", table})
	if err == nil {
		err = checkRows("table", table, "dst", dst, ids, table)
	}
	if err == nil {
		err = noAlias(bufs[0], bufs[1])
	}
	if err != nil {
		return fmt.Errorf("cuda: gather: %w", err)
	}
	return b.copyRows(b.k.gather, bufs[0], bufs[1], ids, table.Dim(1))
}

// Scatter copies rows into dst: dst[ids[r]] = src[r]; ids are distinct.
func (b *Backend) Scatter(dst, src *tensor.Tensor, ids []int) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"src", src})
	if err == nil {
		err = checkRows("dst", dst, "src", src, ids, dst)
	}
	if err == nil {
		seen := make(map[int]bool, len(ids))
		for r, id := range ids {
			if seen[id] {
				err = fmt.Errorf("ids[%d] = %d repeats an index: %w", r, id, tensor.ErrArgument)
				break
			}
			seen[id] = true
		}
	}
	if err == nil {
		err = noAlias(bufs[0], bufs[1])
	}
	if err != nil {
		return fmt.Errorf("cuda: scatter: %w", err)
	}
	return b.copyRows(b.k.scatter, bufs[0], bufs[1], ids, dst.Dim(1))
}

// copyRows runs Gather's or Scatter's kernel: rows of d elements between dst and src at the
// indices ids, which it uploads.
func (b *Backend) copyRows(fn cu.Function, dst, src *buffer, ids []int, d int) error {
	return b.do(func() error {
		if len(ids)*d == 0 {
			return nil
		}
		p, err := b.uploadInts(ids)
		if err != nil {
			return err
		}
		return b.k.launch1D(fn, len(ids)*d, dst.ptr, src.ptr, p, len(ids), d)
	})
}

// checkRows validates Gather's and Scatter's shapes: the indexed tensor big (R, D), the packed
// tensor small (len(ids), D), and every id a row of indexed.
func checkRows(bigName string, big *tensor.Tensor, smallName string, small *tensor.Tensor, ids []int, indexed *tensor.Tensor) error {
	if big.Rank() != 2 || small.Rank() != 2 || small.Dim(0) != len(ids) || small.Dim(1) != big.Dim(1) {
		return fmt.Errorf("%s %v, %s %v, %d ids: %w", bigName, big, smallName, small, len(ids), tensor.ErrShape)
	}
	for r, id := range ids {
		if id < 0 || id >= indexed.Dim(0) {
			return fmt.Errorf("ids[%d] = %d, want in [0, %d): %w", r, id, indexed.Dim(0), tensor.ErrArgument)
		}
	}
	return nil
}

// Cosine computes the cosine similarity of matching rows of a and b (N, D) into dst (N).
func (b *Backend) Cosine(dst, x, y *tensor.Tensor) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"a", x}, operand{"b", y})
	if err == nil {
		err = sameShape(operand{"a", x}, operand{"b", y})
	}
	if err == nil && (x.Rank() != 2 || dst.Rank() != 1 || dst.Dim(0) != x.Dim(0)) {
		err = fmt.Errorf("dst %v, a %v: want a and b (N, D), dst (N): %w", dst, x, tensor.ErrShape)
	}
	if err == nil {
		err = noAlias(bufs[0], bufs[1], bufs[2])
	}
	if err != nil {
		return fmt.Errorf("cuda: cosine: %w", err)
	}
	rows, d := x.Dim(0), x.Dim(1)
	return b.do(func() error { return b.k.launchRows(b.k.cosine, rows, bufs[0].ptr, bufs[1].ptr, bufs[2].ptr, rows, d) })
}
