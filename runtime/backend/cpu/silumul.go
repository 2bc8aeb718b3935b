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

// SiLUMul computes the SiLU-gated MLP activation; gate, up and dst have the same shape and dst
// may be gate or up:
//
//	for i := range dst {
//		g := gate[i]
//		dst[i] = g / (1 + exp(-g)) * up[i]
//	}
func (*Backend) SiLUMul(dst, gate, up *tensor.Tensor) error {
	d, g, u, err := data3(operand{dstName, dst}, operand{"gate", gate}, operand{"up", up})
	if err != nil {
		return fmt.Errorf("cpu: silu mul: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"gate", gate}, operand{"up", up}); err != nil {
		return fmt.Errorf("cpu: silu mul: %w", err)
	}
	for i := range d {
		sig := float32(1 / (1 + math.Exp(-float64(g[i]))))
		d[i] = g[i] * sig * u[i]
	}
	return nil
}
