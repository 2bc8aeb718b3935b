// Copyright 2026 The dllm-operator Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

#include "textflag.h"

// AVX-512 exponentials for softmax, sixteen lanes at a time. The algorithm is expf's in exp.go:
// n = round(x·log2 e), r = x − n·ln2 (Cody–Waite, two FMAs), e^r by its degree-7 Taylor
// polynomial (|r| ≤ ln2/2, truncation below 2⁻²⁷), then VSCALEFPS multiplies by 2ⁿ, which also
// gives gradual underflow and +Inf on overflow. x is first raised to −104, where e^x rounds to
// 0, so −Inf (a masked logit) gives exactly 0; the operand order of VMAXPS keeps NaN.
//
// Constant registers, loaded by EXPCONST:
//
//	Z16 log2 e      Z17 −ln2 (high part)   Z18 −ln2 (low part)
//	Z19 1/7!        Z20–Z25 1/6! … 1/1!    Z26 1.0      Z27 −104
//
// The routines use Z28–Z31 for the shift, scale and running sums or maxima, and Z0–Z15 as
// temporaries.

#define BCASTK(bits, z) MOVL $bits, AX; VPBROADCASTD AX, z

#define EXPCONST \
	BCASTK(0x3fb8aa3b, Z16); \
	BCASTK(0xbf318000, Z17); \
	BCASTK(0x395e8083, Z18); \
	BCASTK(0x39500d01, Z19); \
	BCASTK(0x3ab60b61, Z20); \
	BCASTK(0x3c088889, Z21); \
	BCASTK(0x3d2aaaab, Z22); \
	BCASTK(0x3e2aaaab, Z23); \
	BCASTK(0x3f000000, Z24); \
	BCASTK(0x3f800000, Z25); \
	BCASTK(0x3f800000, Z26); \
	BCASTK(0xc2d00000, Z27)

// EXP replaces x by e^x, using t and u.
#define EXP(x, t, u) \
	VMAXPS       x, Z27, x; \
	VMULPS       Z16, x, t; \
	VRNDSCALEPS  $0, t, t; \
	VFMADD231PS  Z17, t, x; \
	VFMADD231PS  Z18, t, x; \
	VMOVAPS      Z19, u; \
	VFMADD213PS  Z20, x, u; \
	VFMADD213PS  Z21, x, u; \
	VFMADD213PS  Z22, x, u; \
	VFMADD213PS  Z23, x, u; \
	VFMADD213PS  Z24, x, u; \
	VFMADD213PS  Z25, x, u; \
	VFMADD213PS  Z26, x, u; \
	VSCALEFPS    t, u, x

// SHIFTEXP replaces x by e^((x − Z28)·Z29).
#define SHIFTEXP(x, t, u) \
	VSUBPS Z28, x, x; \
	VMULPS Z29, x, x; \
	EXP(x, t, u)

// HREDUCE folds the sixteen lanes of Z0 into X0 lane 0 with op (VADDPS or VMAXPS).
#define HREDUCE(op) \
	VEXTRACTF64X4 $1, Z0, Y1; \
	op            Y1, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X1; \
	op            X1, X0, X0; \
	VPERMILPS     $0x4e, X0, X1; \
	op            X1, X0, X0; \
	VPERMILPS     $0xb1, X0, X1; \
	op            X1, X0, X0

// func expShiftAVX512(dst, src *float32, n int, shift, scale float32) float32
//
// dst[i] = e^((src[i] − shift)·scale) for i < n; returns Σ dst[i]. dst may be src.
//
//	DI dst, SI src, CX elements left;  Z28 shift, Z29 scale, Z30–Z31 partial sums
//	K1 the mask of the last partial vector
TEXT ·expShiftAVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Z28
	VBROADCASTSS scale+28(FP), Z29
	EXPCONST
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

loop32:
	CMPQ CX, $32
	JLT  tail16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z3
	SHIFTEXP(Z0, Z1, Z2)
	SHIFTEXP(Z3, Z4, Z5)
	VMOVUPS Z0, (DI)
	VMOVUPS Z3, 64(DI)
	VADDPS  Z0, Z30, Z30
	VADDPS  Z3, Z31, Z31
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     loop32

tail16:
	CMPQ CX, $16
	JLT  tail
	VMOVUPS (SI), Z0
	SHIFTEXP(Z0, Z1, Z2)
	VMOVUPS Z0, (DI)
	VADDPS  Z0, Z30, Z30
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

tail:
	TESTQ CX, CX
	JZ    sum
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VPXORD  Z0, Z0, Z0
	VMOVUPS (SI), K1, Z0
	SHIFTEXP(Z0, Z1, Z2)
	VMOVUPS Z0, K1, (DI)
	VPXORD  Z3, Z3, Z3
	VMOVUPS Z0, K1, Z3 // only the real lanes join the sum
	VADDPS  Z3, Z30, Z30

sum:
	VADDPS Z31, Z30, Z0
	HREDUCE(VADDPS)
	MOVSS  X0, ret+32(FP)
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) float32
//
// The largest of x[0:n], n ≥ 1.
//
//	SI x, CX elements left;  Z30–Z31 running maxima, Z29 −Inf
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	BCASTK(0xff800000, Z29)
	VMOVAPS Z29, Z30
	VMOVAPS Z29, Z31

mloop32:
	CMPQ CX, $32
	JLT  mtail16
	VMAXPS (SI), Z30, Z30
	VMAXPS 64(SI), Z31, Z31
	ADDQ   $128, SI
	SUBQ   $32, CX
	JMP    mloop32

mtail16:
	CMPQ CX, $16
	JLT  mtail
	VMAXPS (SI), Z30, Z30
	ADDQ   $64, SI
	SUBQ   $16, CX

mtail:
	TESTQ CX, CX
	JZ    mreduce
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVAPS Z29, Z0
	VMOVUPS (SI), K1, Z0
	VMAXPS  Z0, Z30, Z30

mreduce:
	VMAXPS Z31, Z30, Z0
	HREDUCE(VMAXPS)
	MOVSS  X0, ret+16(FP)
	VZEROUPPER
	RET

// func softmaxCols32AVX512(s *float32, rows int, scale float32, sums *float32)
//
// Column softmax numerators of the rows×32 matrix s (row stride 32), in place, with column
// maxima subtracted: s[j][c] = e^((s[j][c] − max_j s[j][c])·scale); sums[c] = Σ_j s[j][c].
//
//	SI the row, CX rows left;  Z28 (columns 0–15) and Z9 (16–31) the column maxima,
//	Z29 scale, Z30–Z31 the column sums
TEXT ·softmaxCols32AVX512(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), SI
	MOVQ rows+8(FP), CX
	VBROADCASTSS scale+16(FP), Z29
	BCASTK(0xff800000, Z28)
	VMOVAPS Z28, Z9
	TESTQ CX, CX
	JZ    cdone

cmax:
	VMAXPS (SI), Z28, Z28
	VMAXPS 64(SI), Z9, Z9
	ADDQ   $128, SI
	DECQ   CX
	JNZ    cmax

	// Fold the scale into the shift: (x − m)·scale = x·scale − m·scale.
	VMULPS Z29, Z28, Z28
	VMULPS Z29, Z9, Z9
	EXPCONST
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ   s+0(FP), SI
	MOVQ   rows+8(FP), CX

cexp:
	VMOVUPS      (SI), Z0
	VMOVUPS      64(SI), Z3
	VFMSUB213PS  Z28, Z29, Z0
	VFMSUB213PS  Z9, Z29, Z3
	EXP(Z0, Z1, Z2)
	EXP(Z3, Z4, Z5)
	VMOVUPS      Z0, (SI)
	VMOVUPS      Z3, 64(SI)
	VADDPS       Z0, Z30, Z30
	VADDPS       Z3, Z31, Z31
	ADDQ         $128, SI
	DECQ         CX
	JNZ          cexp

	MOVQ    sums+24(FP), DI
	VMOVUPS Z30, (DI)
	VMOVUPS Z31, 64(DI)

cdone:
	VZEROUPPER
	RET
