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
	"math"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// checkSiLUMul validates SiLUMul's operands and returns their storage.
func checkSiLUMul(dst, gate, up *tensor.Tensor) (d, g, u []float32, err error) {
	d, g, u, err = data3(operand{dstName, dst}, operand{"gate", gate}, operand{"up", up})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: silu mul: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"gate", gate}, operand{"up", up}); err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: silu mul: %w", err)
	}
	return d, g, u, nil
}

// SiLUMul computes the SiLU-gated MLP activation; gate, up and dst have the same shape and dst
// may be gate or up:
//
//	for i := range dst {
//		g := gate[i]
//		dst[i] = g / (1 + exp(-g)) * up[i]
//	}
func (*Reference) SiLUMul(dst, gate, up *tensor.Tensor) error {
	d, g, u, err := checkSiLUMul(dst, gate, up)
	if err != nil {
		return err
	}
	for i := range d {
		sig := float32(1 / (1 + math.Exp(-float64(g[i]))))
		d[i] = g[i] * sig * u[i]
	}
	return nil
}

// SiLUMul computes the gated activation as Reference.SiLUMul, with a float32 exponential within
// 2 ULP instead of math.Exp, which keeps the result within the 4 ULP contract; split over
// threads.
func (be *Backend) SiLUMul(dst, gate, up *tensor.Tensor) error {
	d, g, u, err := checkSiLUMul(dst, gate, up)
	if err != nil {
		return err
	}
	ks := be.gemmKernels()
	be.forRows(len(d), 1, func(lo, hi int) {
		// e^(−gate) in float32 with the kernels' vectorised exponential (within 2 ULP, like
		// softmax's), a block at a time through a stack buffer; the gate's MLP is large enough
		// (L·I elements per block) that math.Exp in float64 would cost a tenth of a pass.
		var e [512]float32
		for lo < hi {
			n := min(hi-lo, len(e))
			d, g, u := d[lo:lo+n], g[lo:lo+n], u[lo:lo+n]
			ks.expShift(e[:n], g, 0, -1)
			ks.siluGate(d, g, u, e[:n])
			lo += n
		}
	})
	return nil
}
