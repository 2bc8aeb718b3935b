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

// SGEMM microkernels and the packing transpose; see gemm.go for the blocking around them.
//
// AVX-512 microkernels, h×32 for h = 14, 8, 4. Per k step the packed B panel supplies 32
// floats (two zmm) and the packed A tile h floats, each broadcast to a register and multiplied
// into both halves of its C row: 2 + h loads for 2h FMAs. (Broadcasting inside the FMA from
// memory instead doubles the loads and measured 20% slower on Zen 5.)
//
//	AX      packed A tile, advances 4h bytes per k step
//	BX      packed B panel, advances 128 bytes per k step
//	CX      k steps left
//	DI      C tile, row by row; DX = ldc in bytes
//	Z0–Z27  accumulators: row i of the tile in Z(2i) (columns 0–15) and Z(2i+1) (16–31)
//	Z28–29  the B panel row of the current k step
//	Z30     the broadcast A float
//
// The K loop is unrolled four times and prefetches the A tile eight steps ahead (the B panel
// is already in L1); a 1-step loop finishes kc mod 4.

// FMA2 adds the broadcast A float at off(AX) times the current B row to one C row.
#define FMA2(off, z0, z1) \
	VBROADCASTSS off(AX), Z30; \
	VFMADD231PS Z30, Z28, z0; \
	VFMADD231PS Z30, Z29, z1

#define LOADB(bo) \
	VMOVUPS bo(BX), Z28; \
	VMOVUPS bo+64(BX), Z29

// FMAS14, FMAS8 and FMAS4 multiply the current B row (Z28–Z29) into the h rows of C.
#define FMAS14(ao) \
	FMA2(ao+0, Z0, Z1); FMA2(ao+4, Z2, Z3); FMA2(ao+8, Z4, Z5); FMA2(ao+12, Z6, Z7); \
	FMA2(ao+16, Z8, Z9); FMA2(ao+20, Z10, Z11); FMA2(ao+24, Z12, Z13); FMA2(ao+28, Z14, Z15); \
	FMA2(ao+32, Z16, Z17); FMA2(ao+36, Z18, Z19); FMA2(ao+40, Z20, Z21); FMA2(ao+44, Z22, Z23); \
	FMA2(ao+48, Z24, Z25); FMA2(ao+52, Z26, Z27)

#define FMAS8(ao) \
	FMA2(ao+0, Z0, Z1); FMA2(ao+4, Z2, Z3); FMA2(ao+8, Z4, Z5); FMA2(ao+12, Z6, Z7); \
	FMA2(ao+16, Z8, Z9); FMA2(ao+20, Z10, Z11); FMA2(ao+24, Z12, Z13); FMA2(ao+28, Z14, Z15)

#define FMAS4(ao) \
	FMA2(ao+0, Z0, Z1); FMA2(ao+4, Z2, Z3); FMA2(ao+8, Z4, Z5); FMA2(ao+12, Z6, Z7)

#define STEP14(ao, bo) LOADB(bo); FMAS14(ao)

#define STEP8(ao, bo) LOADB(bo); FMAS8(ao)

#define STEP4(ao, bo) LOADB(bo); FMAS4(ao)

#define ZERO2(z0, z1) VPXORD z0, z0, z0; VPXORD z1, z1, z1

// PUT2 stores one C row and moves DI to the next; ADD2 first adds the row already in C.
#define PUT2(z0, z1) \
	VMOVUPS z0, (DI); \
	VMOVUPS z1, 64(DI); \
	ADDQ    DX, DI

#define ADD2(z0, z1) \
	VADDPS (DI), z0, z0; \
	VADDPS 64(DI), z1, z1; \
	PUT2(z0, z1)

#define ROWS4(op) op(Z0, Z1); op(Z2, Z3); op(Z4, Z5); op(Z6, Z7)
#define ROWS8(op) ROWS4(op); op(Z8, Z9); op(Z10, Z11); op(Z12, Z13); op(Z14, Z15)
#define ROWS14(op) ROWS8(op); op(Z16, Z17); op(Z18, Z19); op(Z20, Z21); op(Z22, Z23); op(Z24, Z25); op(Z26, Z27)

// ARGS loads a kernel's arguments; ARGSS those of a kernel that reads B in place (ldb too).
#define ARGS \
	MOVQ kc+0(FP), CX; \
	MOVQ a+8(FP), AX; \
	MOVQ b+16(FP), BX; \
	MOVQ c+24(FP), DI; \
	MOVQ ldc+32(FP), DX; \
	SHLQ $2, DX

#define ARGSS \
	MOVQ kc+0(FP), CX; \
	MOVQ a+8(FP), AX; \
	MOVQ b+16(FP), BX; \
	MOVQ ldb+24(FP), R8; \
	SHLQ $2, R8; \
	MOVQ c+32(FP), DI; \
	MOVQ ldc+40(FP), DX; \
	SHLQ $2, DX

// KERNEL512 is the body of one h×32 kernel: arguments (args), zeroed accumulators, the K loop
// and the store. step is STEP14/8/4 (or their bfloat16 or in-place forms), rows ROWS14/8/4,
// astep the packed A bytes and bstep the packed B bytes per k step (0 when step advances B
// itself), acc the acc argument.
#define KERNEL512(args, step, rows, astep, bstep, acc) \
	args; \
	rows(ZERO2); \
	CMPQ CX, $4; \
	JLT  tail; \
loop4: \
	PREFETCHT0 (8*astep)(AX); \
	PREFETCHT0 (8*astep+64)(AX); \
	PREFETCHT0 (8*astep+128)(AX); \
	PREFETCHT0 (8*astep+192)(AX); \
	step(0, 0); \
	step(astep, bstep); \
	step(2*astep, 2*bstep); \
	step(3*astep, 3*bstep); \
	ADDQ $(4*astep), AX; \
	ADDQ $(4*bstep), BX; \
	SUBQ $4, CX; \
	CMPQ CX, $4; \
	JGE  loop4; \
tail: \
	TESTQ CX, CX; \
	JZ    store; \
loop1: \
	step(0, 0); \
	ADDQ $astep, AX; \
	ADDQ $bstep, BX; \
	DECQ CX; \
	JNZ  loop1; \
store: \
	MOVBLZX acc(FP), SI; \
	TESTQ   SI, SI; \
	JZ      put; \
	rows(ADD2); \
	VZEROUPPER; \
	RET; \
put: \
	rows(PUT2); \
	VZEROUPPER; \
	RET

// The same kernels reading B in place: row k of the h×32 product's B is 32 floats at
// b + k·ldb, so a B stored (K, N) with any row stride needs no packed panel. Attention's P·V
// uses them on the value rows of the cache, which a packed copy would have to read and write
// once more.
//
//	R8  ldb in bytes
#define LOADBS \
	VMOVUPS (BX), Z28; \
	VMOVUPS 64(BX), Z29; \
	ADDQ    R8, BX

#define STEP14S(ao, bo) LOADBS; FMAS14(ao)

#define STEP8S(ao, bo) LOADBS; FMAS8(ao)

#define STEP4S(ao, bo) LOADBS; FMAS4(ao)

// func sgemmKernel14x32(kc int, a, b, c *float32, ldc int, acc bool)
TEXT ·sgemmKernel14x32(SB), NOSPLIT, $0-41
	KERNEL512(ARGS, STEP14, ROWS14, 56, 128, acc+40)

// func sgemmKernel8x32(kc int, a, b, c *float32, ldc int, acc bool)
TEXT ·sgemmKernel8x32(SB), NOSPLIT, $0-41
	KERNEL512(ARGS, STEP8, ROWS8, 32, 128, acc+40)

// func sgemmKernel4x32(kc int, a, b, c *float32, ldc int, acc bool)
TEXT ·sgemmKernel4x32(SB), NOSPLIT, $0-41
	KERNEL512(ARGS, STEP4, ROWS4, 16, 128, acc+40)

// func sgemmKernelS14x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc bool)
TEXT ·sgemmKernelS14x32(SB), NOSPLIT, $0-49
	KERNEL512(ARGSS, STEP14S, ROWS14, 56, 0, acc+48)

// func sgemmKernelS8x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc bool)
TEXT ·sgemmKernelS8x32(SB), NOSPLIT, $0-49
	KERNEL512(ARGSS, STEP8S, ROWS8, 32, 0, acc+48)

// func sgemmKernelS4x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc bool)
TEXT ·sgemmKernelS4x32(SB), NOSPLIT, $0-49
	KERNEL512(ARGSS, STEP4S, ROWS4, 16, 0, acc+48)

// The same kernels over a B panel of bfloat16 values (32 per k step, 64 bytes): a weight
// stored as bfloat16 in its checkpoint is exact in that form, and a small-M product spends
// most of its time streaming the weight from memory, so half the bytes is up to twice the
// speed. Each bfloat16 widens exactly to the float32 whose upper half it is (zero-extend to 32
// bits, shift left 16), so the products equal the float32 kernels' bit for bit.
#define LOADB16(bo) \
	VPMOVZXWD bo(BX), Z28; \
	VPMOVZXWD bo+32(BX), Z29; \
	VPSLLD    $16, Z28, Z28; \
	VPSLLD    $16, Z29, Z29

#define STEP14H(ao, bo) LOADB16(bo); FMAS14(ao)

#define STEP8H(ao, bo) LOADB16(bo); FMAS8(ao)

#define STEP4H(ao, bo) LOADB16(bo); FMAS4(ao)

// func sbgemmKernel14x32(kc int, a *float32, b *uint16, c *float32, ldc int, acc bool)
TEXT ·sbgemmKernel14x32(SB), NOSPLIT, $0-41
	KERNEL512(ARGS, STEP14H, ROWS14, 56, 64, acc+40)

// func sbgemmKernel8x32(kc int, a *float32, b *uint16, c *float32, ldc int, acc bool)
TEXT ·sbgemmKernel8x32(SB), NOSPLIT, $0-41
	KERNEL512(ARGS, STEP8H, ROWS8, 32, 64, acc+40)

// func sbgemmKernel4x32(kc int, a *float32, b *uint16, c *float32, ldc int, acc bool)
TEXT ·sbgemmKernel4x32(SB), NOSPLIT, $0-41
	KERNEL512(ARGS, STEP4H, ROWS4, 16, 64, acc+40)

// AVX2+FMA microkernel, 6×16. Sixteen ymm registers allow 6 rows of two ymm accumulators, the
// B row and one broadcast register:
//
//	AX      packed A tile, 24 bytes per k step;  BX  packed B panel, 64 bytes per k step
//	CX      k steps left;  DI  C tile, DX = ldc in bytes
//	Y0–Y11  accumulators: row i in Y(2i) (columns 0–7) and Y(2i+1) (8–15)
//	Y12–13  the B panel row;  Y14  the broadcast A float

#define FMAY(off, y0, y1) \
	VBROADCASTSS off(AX), Y14; \
	VFMADD231PS  Y14, Y12, y0; \
	VFMADD231PS  Y14, Y13, y1

#define STEP6(ao, bo) \
	VMOVUPS bo(BX), Y12; \
	VMOVUPS bo+32(BX), Y13; \
	FMAY(ao+0, Y0, Y1); FMAY(ao+4, Y2, Y3); FMAY(ao+8, Y4, Y5); \
	FMAY(ao+12, Y6, Y7); FMAY(ao+16, Y8, Y9); FMAY(ao+20, Y10, Y11)

#define ZEROY(y0, y1) VXORPS y0, y0, y0; VXORPS y1, y1, y1

#define PUTY(y0, y1) \
	VMOVUPS y0, (DI); \
	VMOVUPS y1, 32(DI); \
	ADDQ    DX, DI

#define ADDY(y0, y1) \
	VADDPS (DI), y0, y0; \
	VADDPS 32(DI), y1, y1; \
	PUTY(y0, y1)

#define ROWS6(op) op(Y0, Y1); op(Y2, Y3); op(Y4, Y5); op(Y6, Y7); op(Y8, Y9); op(Y10, Y11)

// func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, acc bool)
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-41
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	ROWS6(ZEROY)
	CMPQ CX, $4
	JLT  tail

loop4:
	STEP6(0, 0)
	STEP6(24, 64)
	STEP6(48, 128)
	STEP6(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JZ    store

loop1:
	STEP6(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

store:
	MOVBLZX acc+40(FP), SI
	TESTQ   SI, SI
	JZ      put
	ROWS6(ADDY)
	VZEROUPPER
	RET

put:
	ROWS6(PUTY)
	VZEROUPPER
	RET

// transpose16 transposes blocks of 16 columns of up to 16 rows (AVX-512):
//
//	for b := range blocks, j := range 16, i := range lanes:
//		dst[(16b+j)·ldd + i] = src[i·lds + 16b + j] if i < rows, else 0
//
// Registers:
//
//	SI   the source block (advances 64 bytes per block);  R10 the row being loaded
//	R8   lds in bytes;  R11 rows
//	DI   the destination block (advances 16·ldd floats per block);  R9 the row being stored
//	DX   ldd in bytes;  R12 16·ldd in bytes;  CX blocks left
//	K1   the store mask, lanes low bits set
//	Z0–Z15   source rows in, transposed rows out;  Z16–Z31 intermediate shuffles
//
// The transpose is the usual four shuffle stages: interleave 32-bit elements of row pairs,
// then 64-bit pairs, giving 4×4 transposed blocks inside each 128-bit lane; two rounds of
// 128-bit lane shuffles then move those blocks into place.

// LOADROW loads source row i into z unless rows ≤ i.
#define LOADROW(i, z) \
	CMPQ    R11, $i; \
	JLE     loaded; \
	VMOVUPS (R10), z; \
	ADDQ    R8, R10

// UNPACK32 interleaves the 32-bit elements of rows r0 and r1 into t0 (low) and t1 (high).
#define UNPACK32(r0, r1, t0, t1) \
	VUNPCKLPS r1, r0, t0; \
	VUNPCKHPS r1, r0, t1

// UNPACK64 interleaves the 64-bit elements of t0 and t2 into u0, u1 and of t1 and t3 into
// u2, u3: u0..u3 then hold, in each 128-bit lane L, column 4L+0..3 of four source rows.
#define UNPACK64(t0, t1, t2, t3, u0, u1, u2, u3) \
	VUNPCKLPD t2, t0, u0; \
	VUNPCKHPD t2, t0, u1; \
	VUNPCKLPD t3, t1, u2; \
	VUNPCKHPD t3, t1, u3

// LANES transposes the 4×4 grid of 128-bit lanes of x, y, z, w (rows 0–3, 4–7, 8–11, 12–15,
// one column residue) in place, using t0..t3.
#define LANES(x, y, z, w, t0, t1, t2, t3) \
	VSHUFF32X4 $0x44, y, x, t0; \
	VSHUFF32X4 $0xEE, y, x, t1; \
	VSHUFF32X4 $0x44, w, z, t2; \
	VSHUFF32X4 $0xEE, w, z, t3; \
	VSHUFF32X4 $0x88, t2, t0, x; \
	VSHUFF32X4 $0xDD, t2, t0, y; \
	VSHUFF32X4 $0x88, t3, t1, z; \
	VSHUFF32X4 $0xDD, t3, t1, w

#define STOREROW(z) \
	VMOVUPS z, K1, (R9); \
	ADDQ    DX, R9

// func transpose16(dst *float32, ldd int, src *float32, lds, rows, lanes, blocks int)
TEXT ·transpose16(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), DX
	SHLQ $2, DX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R8
	SHLQ $2, R8
	MOVQ rows+32(FP), R11
	MOVQ lanes+40(FP), CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ DX, R12
	SHLQ $4, R12
	MOVQ blocks+48(FP), CX
	TESTQ CX, CX
	JZ   done

block:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	MOVQ   SI, R10
	LOADROW(0, Z0)
	LOADROW(1, Z1)
	LOADROW(2, Z2)
	LOADROW(3, Z3)
	LOADROW(4, Z4)
	LOADROW(5, Z5)
	LOADROW(6, Z6)
	LOADROW(7, Z7)
	LOADROW(8, Z8)
	LOADROW(9, Z9)
	LOADROW(10, Z10)
	LOADROW(11, Z11)
	LOADROW(12, Z12)
	LOADROW(13, Z13)
	LOADROW(14, Z14)
	LOADROW(15, Z15)

loaded:
	// Stage 1: t(2p), t(2p+1) in Z16+2p, Z17+2p from rows 2p, 2p+1.
	UNPACK32(Z0, Z1, Z16, Z17)
	UNPACK32(Z2, Z3, Z18, Z19)
	UNPACK32(Z4, Z5, Z20, Z21)
	UNPACK32(Z6, Z7, Z22, Z23)
	UNPACK32(Z8, Z9, Z24, Z25)
	UNPACK32(Z10, Z11, Z26, Z27)
	UNPACK32(Z12, Z13, Z28, Z29)
	UNPACK32(Z14, Z15, Z30, Z31)

	// Stage 2: u(4q+c) in Z(4q+c) holds rows 4q..4q+3 at column 4L+c of lane L.
	UNPACK64(Z16, Z17, Z18, Z19, Z0, Z1, Z2, Z3)
	UNPACK64(Z20, Z21, Z22, Z23, Z4, Z5, Z6, Z7)
	UNPACK64(Z24, Z25, Z26, Z27, Z8, Z9, Z10, Z11)
	UNPACK64(Z28, Z29, Z30, Z31, Z12, Z13, Z14, Z15)

	// Stages 3–4, per column residue c: output row j = 4L+c comes from lane L of u(c),
	// u(4+c), u(8+c), u(12+c), so output row j lands in Zj.
	LANES(Z0, Z4, Z8, Z12, Z16, Z17, Z18, Z19)
	LANES(Z1, Z5, Z9, Z13, Z20, Z21, Z22, Z23)
	LANES(Z2, Z6, Z10, Z14, Z24, Z25, Z26, Z27)
	LANES(Z3, Z7, Z11, Z15, Z28, Z29, Z30, Z31)

	MOVQ DI, R9
	STOREROW(Z0)
	STOREROW(Z1)
	STOREROW(Z2)
	STOREROW(Z3)
	STOREROW(Z4)
	STOREROW(Z5)
	STOREROW(Z6)
	STOREROW(Z7)
	STOREROW(Z8)
	STOREROW(Z9)
	STOREROW(Z10)
	STOREROW(Z11)
	STOREROW(Z12)
	STOREROW(Z13)
	STOREROW(Z14)
	STOREROW(Z15)
	ADDQ $64, SI
	ADDQ R12, DI
	DECQ CX
	JNZ  block

done:
	VZEROUPPER
	RET

// prefetchRows asks for rows rows of cols floats each, row stride lds floats, to be brought
// into L2: the next B panel to pack, whose rows are far apart and too short for the hardware
// prefetcher to follow.
//
//	SI  the row;  R8 lds in bytes;  CX rows left;  DX cols in bytes;  AX offset in the row
//
// func prefetchRows(p *float32, lds, rows, cols int)
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ lds+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), CX
	MOVQ cols+24(FP), DX
	SHLQ $2, DX
	TESTQ CX, CX
	JZ   pdone
	TESTQ DX, DX
	JZ   pdone

prow:
	XORQ AX, AX

pline:
	PREFETCHT1 (SI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, DX
	JLT  pline
	PREFETCHT1 -1(SI)(DX*1)
	ADDQ R8, SI
	DECQ CX
	JNZ  prow

pdone:
	RET
