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

package sampler

// transferCounts is LLaDA's get_num_transfer_tokens for one row: it spreads the m masked
// positions of a block over the block's steps as evenly as possible, the leading steps taking
// the remainder:
//
//	counts[j] = m/steps + (1 if j < m%steps else 0),  j in [0, steps)
//
// LLaDA's noise schedule is linear, so every step should unmask the same expected number.
func transferCounts(m, steps int) []int {
	counts := make([]int, steps)
	for j := range counts {
		counts[j] = m / steps
		if j < m%steps {
			counts[j]++
		}
	}
	return counts
}

// linspace32 is torch.linspace(start, end, n) in float32, as ATen computes it (the CPU kernel
// since its vectorised path was removed, and the CUDA kernel): with
//
//	step = (end − start) / (n − 1)                    (float32)
//	v[i] = start + step·i          for i < n/2
//	v[i] = end − step·(n − 1 − i)  for i ≥ n/2
//
// each operation rounded to float32, so both ends are exact. A build that fuses the multiply
// and add (nvcc does by default) can differ in the last bit of some values; Dream's transfer
// count changes only when m·(1 − s/t) lies within such a bit of an integer.
func linspace32(start, end float32, n int) []float32 {
	v := make([]float32, n)
	if n == 1 {
		v[0] = start
		return v
	}
	step := (end - start) / float32(n-1)
	half := n / 2
	for i := range v {
		if i < half {
			v[i] = start + float32(step*float32(i))
		} else {
			v[i] = end - float32(step*float32(n-1-i))
		}
	}
	return v
}

// dreamTimesteps is Dream's timesteps = torch.linspace(1, eps, steps + 1) in float32.
func dreamTimesteps(steps int, eps float64) []float32 {
	return linspace32(1, float32(eps), steps+1)
}

// dreamTransferCount is Dream's number_transfer_tokens for a step that is not the last:
//
//	int(num_mask_token · (1 − s/t)),  num_mask_token = masked / batch
//
// with every operation in float32, as the reference computes it on 0-d float32 tensors, and
// int() truncating towards zero.
func dreamTransferCount(masked, batch int, t, s float32) int {
	mean := float32(masked) / float32(batch)
	frac := 1 - float32(s/t)
	return int(float32(mean * frac))
}
