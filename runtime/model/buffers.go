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

package model

import (
	"sync"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// bufferLimit bounds the bytes of idle buffers a model keeps for reuse.
const bufferLimit = 4 << 30

// buffers recycles the F32 matrices of finished forward passes and sessions by shape. A long
// prompt's session holds hundreds of MB of features and activations; allocating them anew for
// every request costs a device allocation, or on the CPU a page fault per 4 KiB on first touch
// (a third of a 4k-token warm-up pass on a virtual machine). Reused buffers hold stale values:
// every user writes a buffer before reading it.
type buffers struct {
	mu   sync.Mutex
	free map[[2]int][]*tensor.Tensor
	held int64 // bytes in free
}

// get returns an idle (rows, cols) matrix, or a new one from b.
func (p *buffers) get(b tensor.Backend, rows, cols int) (*tensor.Tensor, error) {
	key := [2]int{rows, cols}
	p.mu.Lock()
	if list := p.free[key]; len(list) > 0 {
		t := list[len(list)-1]
		p.free[key] = list[:len(list)-1]
		p.held -= bytesOf(rows, cols)
		p.mu.Unlock()
		return t, nil
	}
	p.mu.Unlock()
	return b.Alloc(tensor.F32, rows, cols)
}

// put makes t, a matrix from get that its user no longer reads, available again, or releases
// it when the idle buffers would exceed bufferLimit. A nil t is ignored.
func (p *buffers) put(b tensor.Backend, t *tensor.Tensor) {
	if t == nil {
		return
	}
	rows, cols := t.Dim(0), t.Dim(1)
	size := bytesOf(rows, cols)
	p.mu.Lock()
	if p.held+size > bufferLimit {
		p.mu.Unlock()
		_ = tensor.Release(b, t) // freeing memory cannot fail in a way the caller could act on
		return
	}
	if p.free == nil {
		p.free = make(map[[2]int][]*tensor.Tensor)
	}
	key := [2]int{rows, cols}
	p.free[key] = append(p.free[key], t)
	p.held += size
	p.mu.Unlock()
}

func bytesOf(rows, cols int) int64 { return 4 * int64(rows) * int64(cols) }
