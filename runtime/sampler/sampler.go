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

import (
	"context"
	"errors"
)

// Denoiser predicts, for the positions [from, to) of every row of a batch of equal-length
// canvases, the logits of the token at that position. Rows are left-padded: the first pad[b]
// positions of row b are padding, which no position attends to (pad may be nil: no padding).
// The samplers ask only for positions they read: LLaDA for the current block, Dream for the
// response region, never a prompt position, so a denoiser need not compute the others. The
// returned slice has one []float32 per row of (to−from)·Vocab() values, position-major:
// position from first.
// For Dream the model already applies its one-position logit shift, so the logits of position
// i are always the prediction for position i.
//
// The samplers pass the canvas read-only and do not retain it. They may modify the returned
// slices in place (for example to set the EOS column to −inf) and do not use them after their
// next Logits call on the same denoiser, so an implementation may return the same memory on
// every call (a session's reused buffer) but no memory it reads itself.
type Denoiser interface {
	Vocab() int
	Logits(ctx context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error)
}

// BlockStarter is implemented by denoisers that want to know where LLaDA's semi-autoregressive
// blocks start, such as a feature cache that refreshes at block boundaries. LLaDA calls
// StartBlock before the first Logits call of every block.
type BlockStarter interface {
	StartBlock()
}

// GuidedDenoiser is implemented by denoisers whose unconditional (classifier-free guidance)
// passes need a state of their own, such as a feature cache: LLaDA runs the unconditional
// passes of a run on Unconditional(), called once.
type GuidedDenoiser interface {
	Denoiser
	Unconditional() Denoiser
}

// ErrInvalidInput is returned, wrapped, when options fail validation, when a prompt batch is
// empty, when a token or special id lies outside the denoiser's vocabulary, or when the
// denoiser returns logits of the wrong shape. Match it with errors.Is(err, sampler.ErrInvalidInput).
var ErrInvalidInput = errors.New("sampler: invalid input")

// Step describes one finished denoising step. It is passed to a [StepFunc].
type Step struct {
	// Index is the step's position in the whole run, from 0.
	Index int
	// Block is the LLaDA block the step belongs to, from 0; always 0 for Dream.
	Block int
	// Forwards is the number of Denoiser.Logits calls so far, this step's included
	// (classifier-free guidance makes two per step).
	Forwards int
	// PromptLen is the padded prompt length: canvas positions from PromptLen on are the
	// response region of every row.
	PromptLen int
	// Positions holds, per row, the canvas positions committed in this step, ascending. A row
	// may have none.
	Positions [][]int
	// Tokens holds, per row, the tokens committed at Positions, in the same order.
	Tokens [][]int
	// Canvas is a read-only view of the canvas after the step. It is valid only during the
	// callback: the callback must not modify it or keep it (or any of its rows) after it
	// returns. Positions and Tokens belong to the callback and may be kept.
	Canvas [][]int
}

// StepFunc is called after every denoising step. A non-nil error stops the sampler, which
// returns it wrapped.
type StepFunc func(Step) error

// Result is the outcome of a sampler run.
type Result struct {
	// Canvas holds the final canvases: [pad | prompt | response] per row.
	Canvas [][]int
	// Generated holds, per row, the response region Canvas[b][PromptLen:] (it shares memory
	// with Canvas), as the references return x[:, prompt_len:].
	Generated [][]int
	// PromptLen is the padded prompt length, the same for every row.
	PromptLen int
	// Pad holds the number of padding positions at the start of each row.
	Pad []int
	// Steps is the number of denoising steps run.
	Steps int
	// Forwards is the number of Denoiser.Logits calls, counting classifier-free guidance's two
	// calls per step as 2.
	Forwards int
}
