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

// Elementwise AVX-512 routines for Add, RMSNorm and SiLUMul. Each computes, lane by lane, the
// same IEEE operations as its Go twin in elementwise.go (no fused multiply-adds), so the results
// are identical; a masked tail covers n mod 16.

// TAILMASK sets K1 to the low CX bits (CX < 16).
#define TAILMASK \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K1

// func addAVX512(d, a, b *float32, n int)
TEXT ·addAVX512(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX

add32:
	CMPQ    CX, $32
	JLT     add16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VADDPS  (DX), Z0, Z0
	VADDPS  64(DX), Z1, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     add32

add16:
	CMPQ    CX, $16
	JLT     addtail
	VMOVUPS (SI), Z0
	VADDPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX

addtail:
	TESTQ   CX, CX
	JZ      adddone
	TAILMASK
	VMOVUPS (SI), K1, Z0
	VMOVUPS (DX), K1, Z1
	VADDPS  Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)

adddone:
	VZEROUPPER
	RET

// func sumSquaresAVX512(x *float32, n int) float32
//
// Sixteen running sums, s[i mod 16] += x[i]·x[i] (multiply, then add), folded as
// s[j] + s[j+8], then + [j+4], + [j+2], + [j+1].
TEXT ·sumSquaresAVX512(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VPXORD Z0, Z0, Z0

sq16:
	CMPQ    CX, $16
	JLT     sqtail
	VMOVUPS (SI), Z1
	VMULPS  Z1, Z1, Z1
	VADDPS  Z1, Z0, Z0
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     sq16

sqtail:
	TESTQ   CX, CX
	JZ      sqfold
	TAILMASK
	VPXORD  Z1, Z1, Z1
	VMOVUPS (SI), K1, Z1
	VMULPS  Z1, Z1, Z1
	VADDPS  Z1, Z0, Z0 // the masked-off lanes add +0, which changes no sum of squares

sqfold:
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VADDPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VADDSS        X1, X0, X0
	MOVSS         X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleMulAVX512(out, x, w *float32, n int, scale float32)
//
// out[i] = (x[i]·scale)·w[i].
TEXT ·scaleMulAVX512(SB), NOSPLIT, $0-36
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS scale+32(FP), Z2

sm16:
	CMPQ    CX, $16
	JLT     smtail
	VMULPS  (SI), Z2, Z0
	VMULPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     sm16

smtail:
	TESTQ   CX, CX
	JZ      smdone
	TAILMASK
	VMOVUPS (SI), K1, Z0
	VMOVUPS (DX), K1, Z1
	VMULPS  Z2, Z0, Z0
	VMULPS  Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)

smdone:
	VZEROUPPER
	RET

// func siluGateAVX512(d, gate, up, e *float32, n int)
//
// d[i] = gate[i] / (1 + e[i]) · up[i], e[i] being e^(−gate[i]).
TEXT ·siluGateAVX512(SB), NOSPLIT, $0-40
	MOVQ  d+0(FP), DI
	MOVQ  gate+8(FP), SI
	MOVQ  up+16(FP), DX
	MOVQ  e+24(FP), R8
	MOVQ  n+32(FP), CX
	MOVL  $0x3f800000, AX
	VPBROADCASTD AX, Z3

sg16:
	CMPQ    CX, $16
	JLT     sgtail
	VADDPS  (R8), Z3, Z1
	VMOVUPS (SI), Z0
	VDIVPS  Z1, Z0, Z0
	VMULPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, R8
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     sg16

sgtail:
	TESTQ   CX, CX
	JZ      sgdone
	TAILMASK
	VMOVUPS (R8), K1, Z1
	VMOVUPS (SI), K1, Z0
	VMOVUPS (DX), K1, Z2
	VADDPS  Z1, Z3, Z1
	VDIVPS  Z1, Z0, Z0
	VMULPS  Z2, Z0, Z0
	VMOVUPS Z0, K1, (DI)

sgdone:
	VZEROUPPER
	RET
