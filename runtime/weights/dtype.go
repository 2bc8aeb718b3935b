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

package weights

import (
	"fmt"
	"math"
)

// DType is the element type of a tensor in a checkpoint.
type DType int

const (
	// DTypeUnknown is the zero DType: a config that does not say which dtype its weights use.
	DTypeUnknown DType = iota
	// BF16 is bfloat16: 1 sign, 8 exponent and 7 mantissa bits (safetensors "BF16").
	BF16
	// F16 is IEEE 754 half precision (safetensors "F16").
	F16
	// F32 is IEEE 754 single precision (safetensors "F32").
	F32
)

// String returns the safetensors spelling of d: "BF16", "F16" or "F32".
func (d DType) String() string {
	switch d {
	case BF16:
		return "BF16"
	case F16:
		return "F16"
	case F32:
		return "F32"
	case DTypeUnknown:
		return "unknown"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size returns the number of bytes of one element of type d, or 0 for an invalid DType.
func (d DType) Size() int {
	switch d {
	case BF16, F16:
		return 2
	case F32:
		return 4
	}
	return 0
}

// ParseDType parses a safetensors dtype ("BF16", "F16", "F32"). Every other dtype the format
// knows (I8, F64, F8_E4M3, ...) is rejected: the runtime computes in these three only.
func ParseDType(s string) (DType, error) {
	switch s {
	case "BF16":
		return BF16, nil
	case "F16":
		return F16, nil
	case "F32":
		return F32, nil
	}
	return DTypeUnknown, fmt.Errorf("dtype %q unsupported, want BF16, F16 or F32", s)
}

// parseTorchDType parses the torch_dtype field of config.json.
func parseTorchDType(s string) (DType, error) {
	switch s {
	case "bfloat16":
		return BF16, nil
	case "float16":
		return F16, nil
	case "float32":
		return F32, nil
	}
	return DTypeUnknown, fmt.Errorf("%q unsupported, want bfloat16, float16 or float32", s)
}

// EncodeBF16 rounds f to the nearest bfloat16, ties to even. NaN stays a (quiet) NaN with
// its sign.
func EncodeBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f { // NaN: truncating could clear every mantissa bit and produce an infinity.
		return uint16(b>>16) | 0x0040
	}
	// Adding 0x7fff plus the lowest kept bit rounds to nearest, ties to even; a carry into the
	// exponent is the correct result (up to and including overflow to infinity).
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// DecodeBF16 returns the float32 that the bfloat16 h represents; the conversion is exact.
func DecodeBF16(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// EncodeF16 rounds f to the nearest IEEE half-precision value, ties to even. Values beyond
// the half range become infinities, tiny values become subnormals or zero, and NaN stays a
// quiet NaN with its sign.
func EncodeF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff

	switch {
	case exp == 0xff && mant != 0: // NaN
		return sign | 0x7e00
	case exp == 0xff: // infinity
		return sign | 0x7c00
	}

	e := exp - 127 + 15 // the rebiased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): f = m·2^(e-38) with m the mantissa and its implicit
		// bit, so f in units of 2^-24 (the half subnormal step) is m >> (14-e).
		if e < -10 {
			return sign // rounds to zero even for the largest such value (< 2^-25)
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	// Normal half: keep 10 mantissa bits and round the 13 dropped ones. A carry out of the
	// mantissa increments the exponent, which is the correct result (e = 0x1f is infinity).
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// DecodeF16 returns the float32 that the IEEE half h represents; the conversion is exact.
func DecodeF16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
