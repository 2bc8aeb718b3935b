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
	"fmt"
	"slices"
)

// canvas is the batch being denoised: rows of equal length, [pad | prompt | response].
type canvas struct {
	rows      [][]int
	pad       []int // nil when no row is padded
	promptLen int   // padded prompt length; the response region starts here
	vocab     int
	forwards  int // Denoiser.Logits calls so far
	from      int // first position of the last Logits call's answer
}

// newCanvas left-pads the prompts with padID to the longest and appends genLen mask tokens.
// It checks every prompt token against the vocabulary.
func newCanvas(prompts [][]int, padID, maskID, genLen, vocab int) (*canvas, error) {
	if len(prompts) == 0 {
		return nil, fmt.Errorf("%w: no prompts", ErrInvalidInput)
	}
	promptLen := 0
	for b, p := range prompts {
		promptLen = max(promptLen, len(p))
		for i, tok := range p {
			if tok < 0 || tok >= vocab {
				return nil, fmt.Errorf("%w: prompt %d token %d is %d, outside the vocabulary of %d tokens",
					ErrInvalidInput, b, i, tok, vocab)
			}
		}
	}
	c := &canvas{rows: make([][]int, len(prompts)), promptLen: promptLen, vocab: vocab}
	pad := make([]int, len(prompts))
	padded := false
	for b, p := range prompts {
		row := make([]int, promptLen+genLen)
		pad[b] = promptLen - len(p)
		padded = padded || pad[b] > 0
		for i := range pad[b] {
			row[i] = padID
		}
		copy(row[pad[b]:], p)
		for i := promptLen; i < len(row); i++ {
			row[i] = maskID
		}
		c.rows[b] = row
	}
	if padded {
		c.pad = pad
	}
	return c, nil
}

// padCounts returns the pad count of every row (zeros when no row is padded).
func (c *canvas) padCounts() []int {
	if c.pad != nil {
		return slices.Clone(c.pad)
	}
	return make([]int, len(c.rows))
}

// logits runs the denoiser on rows (the canvas or a variant of it) and checks the shape of
// its answer.
func (c *canvas) logits(ctx context.Context, d Denoiser, rows [][]int, from, to int) ([][]float32, error) {
	c.forwards++
	c.from = from
	out, err := d.Logits(ctx, rows, c.pad, from, to)
	if err != nil {
		return nil, fmt.Errorf("denoise: %w", err)
	}
	if len(out) != len(rows) {
		return nil, fmt.Errorf("%w: the denoiser returned %d rows of logits for %d canvas rows",
			ErrInvalidInput, len(out), len(rows))
	}
	for b, l := range out {
		if want := (to - from) * c.vocab; len(l) != want {
			return nil, fmt.Errorf("%w: the denoiser returned %d logits for row %d, want %d (%d positions x %d tokens)",
				ErrInvalidInput, len(l), b, want, to-from, c.vocab)
		}
	}
	return out, nil
}

// at returns the logits of canvas position p in one row's answer of logits to the last
// logits call, which starts at that call's from.
func (c *canvas) at(row []float32, p int) []float32 {
	i := (p - c.from) * c.vocab
	return row[i : i+c.vocab : i+c.vocab]
}

// masked returns the positions in [lo, hi) of row b that hold maskID, ascending.
func (c *canvas) masked(b, lo, hi, maskID int) []int {
	var pos []int
	for i := lo; i < hi; i++ {
		if c.rows[b][i] == maskID {
			pos = append(pos, i)
		}
	}
	return pos
}

// commit writes the chosen tokens of every row and runs the step callback.
func (c *canvas) commit(st Step, onStep StepFunc) error {
	for b, pos := range st.Positions {
		for j, p := range pos {
			c.rows[b][p] = st.Tokens[b][j]
		}
	}
	if onStep != nil {
		st.Forwards = c.forwards
		st.PromptLen = c.promptLen
		st.Canvas = c.rows
		if err := onStep(st); err != nil {
			return fmt.Errorf("step callback: %w", err)
		}
	}
	return nil
}

// result packages the final canvas.
func (c *canvas) result(steps int) *Result {
	r := &Result{
		Canvas:    c.rows,
		Generated: make([][]int, len(c.rows)),
		PromptLen: c.promptLen,
		Pad:       c.padCounts(),
		Steps:     steps,
		Forwards:  c.forwards,
	}
	for b, row := range c.rows {
		r.Generated[b] = row[c.promptLen:]
	}
	return r
}
