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
	"math"
	"math/rand/v2"
	"testing"
)

func TestEncodeBF16(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"zero", 0, 0x0000},
		{"negative zero", float32(math.Copysign(0, -1)), 0x8000},
		{"one", 1, 0x3f80},
		{"minus two", -2, 0xc000},
		{"pi rounds to nearest", math.Pi, 0x4049},
		// 1 + 2^-8 lies halfway between 1 and 1+2^-7: ties go to the even mantissa (1).
		{"tie to even down", math.Float32frombits(0x3f808000), 0x3f80},
		// 1+2^-7 + 2^-8 lies halfway between 1+2^-7 (odd) and 1+2^-6: up to even.
		{"tie to even up", math.Float32frombits(0x3f818000), 0x3f82},
		{"above tie rounds up", math.Float32frombits(0x3f808001), 0x3f81},
		{"max float32 overflows to inf", math.MaxFloat32, 0x7f80},
		{"inf", float32(math.Inf(1)), 0x7f80},
		{"minus inf", float32(math.Inf(-1)), 0xff80},
		{"smallest subnormal rounds to zero", math.Float32frombits(1), 0x0000},
		// A NaN whose payload sits in the low 16 bits must not become infinity.
		{"NaN with low payload", math.Float32frombits(0x7f800001), 0x7fc0},
		{"negative NaN", math.Float32frombits(0xffc00000), 0xffc0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EncodeBF16(tc.in); got != tc.want {
				t.Errorf("EncodeBF16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
}

func TestEncodeF16(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"zero", 0, 0x0000},
		{"negative zero", float32(math.Copysign(0, -1)), 0x8000},
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"max half", 65504, 0x7bff},
		{"rounds down to max half", 65519, 0x7bff},
		{"halfway past max half overflows", 65520, 0x7c00},
		{"inf", float32(math.Inf(1)), 0x7c00},
		{"minus inf", float32(math.Inf(-1)), 0xfc00},
		{"NaN", float32(math.NaN()), 0x7e00},
		{"smallest normal", 0x1p-14, 0x0400},
		{"largest subnormal", 0x3ffp-24, 0x03ff},
		{"smallest subnormal", 0x1p-24, 0x0001},
		{"half the smallest subnormal ties to zero", 0x1p-25, 0x0000},
		{"just above half the smallest subnormal", math.Float32frombits(0x33000001), 0x0001},
		{"one and a half smallest subnormals ties to even", 0x3p-25, 0x0002},
		{"subnormal rounding carries into normal", 0x7ffp-25, 0x0400},
		{"tie to even down", 1 + 0x1p-11, 0x3c00},
		{"tie to even up", 1 + 0x3p-11, 0x3c02},
		{"tiny", 0x1p-30, 0x0000},
		{"negative tiny", -0x1p-30, 0x8000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EncodeF16(tc.in); got != tc.want {
				t.Errorf("EncodeF16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
}

// TestHalfRoundTrip decodes every 16-bit pattern and checks that encoding gives it back.
func TestHalfRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		if f := DecodeF16(h); f == f {
			if got := EncodeF16(f); got != h {
				t.Errorf("EncodeF16(DecodeF16(%#04x) = %g) = %#04x", h, f, got)
			}
		} else if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
			t.Errorf("DecodeF16(%#04x) = NaN, want a number", h)
		}
		if f := DecodeBF16(h); f == f {
			if got := EncodeBF16(f); got != h {
				t.Errorf("EncodeBF16(DecodeBF16(%#04x) = %g) = %#04x", h, f, got)
			}
		}
	}
}

// nearestEven returns the code among the finite, non-negative codes 0..maxCode (ordered like
// their values) nearest to x, ties to the even code, or inf when x is at least halfway
// beyond the largest finite value. It is the slow oracle for the encoders.
func nearestEven(x float64, maxCode uint16, inf uint16, decode func(uint16) float32) uint16 {
	lo, hi := 0, int(maxCode)
	for lo < hi { // the largest code whose value <= x
		mid := (lo + hi + 1) / 2
		if float64(decode(uint16(mid))) <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	below := float64(decode(uint16(lo)))
	var above float64
	if lo == int(maxCode) {
		// The next value after the largest finite one, were the exponent range larger.
		above = below + (below - float64(decode(maxCode-1)))
	} else {
		above = float64(decode(uint16(lo + 1)))
	}
	switch {
	case x == below:
		return uint16(lo)
	case x-below < above-x, x-below == above-x && lo%2 == 0:
		return uint16(lo)
	case lo == int(maxCode):
		return inf
	}
	return uint16(lo + 1)
}

func TestEncodeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		f := math.Float32frombits(r.Uint32())
		if f != f {
			continue
		}
		x := math.Abs(float64(f))
		sign := uint16(0)
		if math.Signbit(float64(f)) {
			sign = 0x8000
		}
		if !math.IsInf(x, 0) {
			if got, want := EncodeF16(f), sign|nearestEven(x, 0x7bff, 0x7c00, DecodeF16); got != want {
				t.Fatalf("EncodeF16(%g) = %#04x, want %#04x", f, got, want)
			}
			if got, want := EncodeBF16(f), sign|nearestEven(x, 0x7f7f, 0x7f80, DecodeBF16); got != want {
				t.Fatalf("EncodeBF16(%g) = %#04x, want %#04x", f, got, want)
			}
		}
		// Small magnitudes exercise the F16 subnormal and normal paths more than uniform bits do.
		g := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-30)))
		sign = 0
		if g < 0 {
			sign = 0x8000
		}
		if got, want := EncodeF16(g), sign|nearestEven(math.Abs(float64(g)), 0x7bff, 0x7c00, DecodeF16); got != want {
			t.Fatalf("EncodeF16(%g) = %#04x, want %#04x", g, got, want)
		}
	}
}

func TestParseDType(t *testing.T) {
	tests := []struct {
		in      string
		want    DType
		wantErr bool
	}{
		{"BF16", BF16, false},
		{"F16", F16, false},
		{"F32", F32, false},
		{"F64", DTypeUnknown, true},
		{"I8", DTypeUnknown, true},
		{"bf16", DTypeUnknown, true},
		{"", DTypeUnknown, true},
	}
	for _, tc := range tests {
		got, err := ParseDType(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseDType(%q) = %v, %v, want %v, error %t", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("ParseDType(%q).String() = %q", tc.in, got.String())
		}
	}
}
