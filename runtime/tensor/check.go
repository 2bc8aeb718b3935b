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
	"fmt"
	"slices"
)

// CheckAttention validates Backend.Attention's shapes and key mask, for Backend
// implementations, so every backend refuses the same operands with the same errors: q and dst
// (Lq, H, Dh), k and v (Lk, Hkv, Dh) with equal nonzero Dh and Hkv dividing H, a key mask of Lk
// entries, and at least one visible key when there are queries. The operands must not be nil.
func CheckAttention(dst, q, k, v *Tensor, keyMask []bool) error {
	if q.Rank() != 3 || k.Rank() != 3 || !slices.Equal(dst.Shape(), q.Shape()) || !slices.Equal(k.Shape(), v.Shape()) {
		return fmt.Errorf("dst %v, q %v, k %v, v %v: %w", dst, q, k, v, ErrShape)
	}
	if q.Dim(2) != k.Dim(2) || q.Dim(2) == 0 || k.Dim(1) == 0 || q.Dim(1)%k.Dim(1) != 0 {
		return fmt.Errorf("q %v, k %v: want equal nonzero Dh and Hkv dividing H: %w", q, k, ErrShape)
	}
	if keyMask != nil && len(keyMask) != k.Dim(0) {
		return fmt.Errorf("key mask has %d entries for %d keys: %w", len(keyMask), k.Dim(0), ErrShape)
	}
	if q.Dim(0) > 0 && (k.Dim(0) == 0 || (keyMask != nil && !slices.Contains(keyMask, true))) {
		return fmt.Errorf("no visible key: %w", ErrArgument)
	}
	return nil
}
