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
	"fmt"
	"math"
	"strings"
)

// Remasking selects how LLaDA ranks the masked positions of a block to decide which to commit.
type Remasking int

const (
	// LowConfidence ranks a position by the softmax probability of its predicted token
	// ("low_confidence" in the reference; the lowest-confidence predictions stay masked).
	LowConfidence Remasking = iota
	// Random ranks positions by a uniform random number ("random").
	Random
	// LowMargin ranks a position by the gap between its two most likely tokens'
	// probabilities, Dream's topk_margin ("topk_margin"; not in LLaDA's reference).
	LowMargin
	// HighEntropy ranks a position by the negative entropy of its predictive distribution,
	// Dream's entropy ("entropy"; not in LLaDA's reference).
	HighEntropy
)

var remaskingNames = []string{"low_confidence", "random", "topk_margin", "entropy"}

// String returns the spelling of r ("low_confidence", "random", "topk_margin", "entropy").
func (r Remasking) String() string {
	if r < 0 || int(r) >= len(remaskingNames) {
		return fmt.Sprintf("Remasking(%d)", int(r))
	}
	return remaskingNames[r]
}

// ParseRemasking parses the spelling of String: "low_confidence", "random", "topk_margin" or
// "entropy".
func ParseRemasking(s string) (Remasking, error) {
	for i, name := range remaskingNames {
		if s == name {
			return Remasking(i), nil
		}
	}
	return 0, fmt.Errorf("%w: remasking %q is not one of %q", ErrInvalidInput, s, remaskingNames)
}

// Algorithm selects Dream's remasking algorithm (the reference's alg).
type Algorithm int

const (
	// Origin commits each masked position with probability 1 − s/t per step, with a sampled
	// token ("origin", the reference's default).
	Origin Algorithm = iota
	// MaskGITPlus ranks positions by the probability of the predicted token ("maskgit_plus").
	MaskGITPlus
	// TopKMargin ranks positions by the margin p1 − p2 between the two most likely tokens
	// ("topk_margin").
	TopKMargin
	// Entropy ranks positions by negative entropy Σ p·log(p + 1e-10) ("entropy").
	Entropy
)

var algorithmNames = []string{"origin", "maskgit_plus", "topk_margin", "entropy"}

// String returns the reference's spelling of a ("origin", "maskgit_plus", ...).
func (a Algorithm) String() string {
	if a < 0 || int(a) >= len(algorithmNames) {
		return fmt.Sprintf("Algorithm(%d)", int(a))
	}
	return algorithmNames[a]
}

// ParseAlgorithm parses the reference's spelling: "origin", "maskgit_plus", "topk_margin" or
// "entropy".
func ParseAlgorithm(s string) (Algorithm, error) {
	for i, name := range algorithmNames {
		if s == name {
			return Algorithm(i), nil
		}
	}
	return 0, fmt.Errorf("%w: alg %q is not one of %q", ErrInvalidInput, s, algorithmNames)
}

// LLaDAOptions configures [LLaDA]. The zero value is not valid: Steps, GenLength and
// BlockLength must be set. Special ids come from the model's configuration (for LLaDA 8B:
// mask 126336, EOS and pad 126081, EoT 126348).
type LLaDAOptions struct {
	// Steps is the total number of denoising steps; it must be a multiple of the number of
	// blocks, GenLength / BlockLength. Each block gets Steps / numBlocks steps.
	Steps int
	// GenLength is the number of response positions.
	GenLength int
	// BlockLength is the semi-autoregressive block length; it must divide GenLength. Set it to
	// GenLength for a single block.
	BlockLength int
	// Temperature is the Gumbel-max sampling temperature; 0 takes the argmax.
	Temperature float64
	// CFGScale is the classifier-free guidance scale s; 0 turns guidance off. With s > 0 every
	// step runs a second forward with the prompt replaced by masks, and the logits become
	// un + (s+1)·(cond − un). The unconditional pass runs on the denoiser's Unconditional()
	// when it implements [GuidedDenoiser] (a feature cache of its own), else on the denoiser.
	CFGScale float64
	// CFGInterval is the reference's CFG cache: the unconditional pass runs only at steps n
	// (counted from 1) with (n−1) mod CFGInterval == 0 or n ≤ 5, and the other steps reuse
	// the last guidance residual res = cond − un, so the logits become (cond − res) + (s+1)·res.
	// 0 and 1 run the unconditional pass every step.
	CFGInterval int
	// Remasking is LowConfidence (the default), Random, LowMargin or HighEntropy. The
	// confidence LowMargin and HighEntropy rank by is Dream's, of softmax(logits) after
	// guidance.
	Remasking Remasking
	// Threshold turns on confidence-aware parallel decoding when above 0; it must be at most
	// 1. Each step then commits every masked position of the current block whose confidence
	// is at least Threshold, and at least the most confident one; a block ends as soon as no
	// row has a mask left in it, so it can take fewer than Steps / numBlocks steps. The budget
	// still holds: the block's last budgeted step commits all its remaining masks. With
	// Random remasking the confidence is the uniform number, so Threshold is then a
	// probability of committing each position.
	Threshold float64
	// MaskID is the mask token id.
	MaskID int
	// PadID is the token used to left-pad shorter prompts.
	PadID int
	// EOSID is the end-of-sequence id, or −1 for none. LogitsEOSInf requires it.
	EOSID int
	// EoTID is the end-of-turn id, or −1 for none.
	EoTID int
	// LogitsEOSInf sets the EOS column of the logits to −inf before a token is chosen or a
	// confidence computed (the reference's logits_eos_inf), so EOS is never predicted.
	LogitsEOSInf bool
	// ConfidenceEOSEoTInf reproduces the reference's confidence_eos_eot_inf exactly: after the
	// token is chosen, the EoT column of the logits is set to −inf before the softmax that
	// gives low-confidence scores. A predicted EoT therefore gets confidence 0 (it is chosen
	// last among the block's candidates), and the other tokens' probabilities are renormalised
	// without EoT. The reference also sets the EOS column of the already-used Gumbel-noised
	// logits to −inf, which changes nothing, so EOS is not affected; use LogitsEOSInf for that.
	// The flag has no effect with Random remasking or when EoTID is −1.
	ConfidenceEOSEoTInf bool
	// Seed seeds the random numbers (Gumbel noise and Random remasking). Each row, step and
	// position has its own stream derived from Seed, so runs with equal options, prompts and
	// logits are identical, and a row's result does not depend on the other rows of its batch.
	Seed uint64
	// Seeds, if set, has one seed per row and replaces Seed: row b draws the random numbers of a
	// batch of one with Seed = Seeds[b], so a request's result does not depend on which batch,
	// or which row of it, it runs in (a serving engine batches independent requests).
	Seeds []uint64
}

// Validate reports every invalid field of o, each error naming the field; the error matches
// [ErrInvalidInput]. It does not know the vocabulary; [LLaDA] checks the ids against it.
func (o *LLaDAOptions) Validate() error {
	var v validator
	v.check(o.Steps > 0, "steps must be positive, got %d", o.Steps)
	v.check(o.GenLength > 0, "gen-length must be positive, got %d", o.GenLength)
	v.check(o.BlockLength > 0, "block-length must be positive, got %d", o.BlockLength)
	if o.Steps > 0 && o.GenLength > 0 && o.BlockLength > 0 {
		if o.GenLength%o.BlockLength != 0 {
			v.add("gen-length %d is not a multiple of block-length %d", o.GenLength, o.BlockLength)
		} else if blocks := o.GenLength / o.BlockLength; o.Steps%blocks != 0 {
			v.add("steps %d is not a multiple of the number of blocks %d (gen-length %d / block-length %d)",
				o.Steps, blocks, o.GenLength, o.BlockLength)
		}
	}
	v.nonNegative("temperature", o.Temperature)
	v.nonNegative("cfg-scale", o.CFGScale)
	v.check(o.CFGInterval >= 0, "cfg-interval must not be negative, got %d", o.CFGInterval)
	v.check(o.Remasking >= LowConfidence && o.Remasking <= HighEntropy,
		"remasking %d is not low_confidence, random, topk_margin or entropy", int(o.Remasking))
	v.unit("threshold", o.Threshold)
	v.check(o.MaskID >= 0, "mask-id must not be negative, got %d", o.MaskID)
	v.check(o.PadID >= 0, "pad-id must not be negative, got %d", o.PadID)
	v.check(o.EOSID >= -1, "eos-id must be -1 (none) or an id, got %d", o.EOSID)
	v.check(o.EoTID >= -1, "eot-id must be -1 (none) or an id, got %d", o.EoTID)
	v.check(!o.LogitsEOSInf || o.EOSID >= 0, "eos-id must be set when logits-eos-inf is on, got %d", o.EOSID)
	return v.err("llada options")
}

// checkVocab checks the special ids against the denoiser's vocabulary size.
func (o *LLaDAOptions) checkVocab(vocab int) error {
	var v validator
	v.vocab(vocab)
	v.id("mask-id", o.MaskID, vocab)
	v.id("pad-id", o.PadID, vocab)
	v.id("eos-id", o.EOSID, vocab)
	v.id("eot-id", o.EoTID, vocab)
	return v.err("llada options")
}

// DreamOptions configures [Dream]. The zero value is not valid: Steps and MaxNewTokens must be
// set. Dream 7B's generation_config.json gives steps 512, eps 1e-3, alg origin, temperature 0;
// its config gives mask 151666 and pad (= EOS) 151643.
type DreamOptions struct {
	// Steps is the number of denoising steps (fewer run with Threshold).
	Steps int
	// MaxNewTokens is the number of response positions.
	MaxNewTokens int
	// Eps is the last timestep of linspace(1, Eps, Steps+1); the reference's default is 1e-3.
	// It is rounded to float32, as torch.linspace does. It must lie in [0, 1).
	Eps float64
	// Algorithm is the remasking algorithm (the reference's alg); Origin is the default.
	Algorithm Algorithm
	// Temperature divides the logits before sampling; 0 takes the most likely token.
	Temperature float64
	// TopP keeps the smallest set of most likely tokens whose probability reaches TopP (the
	// first token crossing it included); 0 or 1 turns the filter off.
	TopP float64
	// TopK keeps the tokens whose logit is at least the TopK-th largest; 0 turns it off.
	TopK int
	// AlgTemp, when above 0, draws the positions to commit without replacement from
	// softmax(confidence / AlgTemp) instead of taking the most confident ones. It is unused
	// by Origin and with Threshold.
	AlgTemp float64
	// Threshold turns on confidence-aware parallel decoding when above 0; it must be at most 1
	// and is not supported with Origin. Each step then commits every masked position whose
	// confidence is at least Threshold, and at least the most confident one, instead of the
	// schedule's count; the run ends early once no mask is left, and the last budgeted step
	// commits everything that remains. The confidence compared is p[x0] for MaskGITPlus,
	// p1 − p2 for TopKMargin and exp(Σ p·log(p + 1e-10)) (one for a certain prediction) for
	// Entropy, whose own confidence is not in [0, 1].
	Threshold float64
	// MaskID is the mask token id.
	MaskID int
	// PadID is the token used to left-pad shorter prompts.
	PadID int
	// Seed seeds the random numbers (sampling, Origin's coin flips, AlgTemp's draws). Each
	// row, step and position has its own stream derived from Seed, so runs with equal options,
	// prompts and logits are identical.
	Seed uint64
	// Seeds, if set, has one seed per row and replaces Seed, as LLaDAOptions.Seeds does.
	Seeds []uint64
}

// Validate reports every invalid field of o, each error naming the field; the error matches
// [ErrInvalidInput]. It does not know the vocabulary; [Dream] checks the ids against it.
func (o *DreamOptions) Validate() error {
	var v validator
	v.check(o.Steps > 0, "steps must be positive, got %d", o.Steps)
	v.check(o.MaxNewTokens > 0, "max-new-tokens must be positive, got %d", o.MaxNewTokens)
	v.check(o.Eps >= 0 && o.Eps < 1, "eps must be in [0, 1), got %v", o.Eps)
	v.check(o.Algorithm >= Origin && o.Algorithm <= Entropy,
		"alg %d is not origin, maskgit_plus, topk_margin or entropy", int(o.Algorithm))
	v.nonNegative("temperature", o.Temperature)
	v.unit("top-p", o.TopP)
	v.check(o.TopK >= 0, "top-k must not be negative, got %d", o.TopK)
	v.nonNegative("alg-temp", o.AlgTemp)
	v.unit("threshold", o.Threshold)
	v.check(o.Threshold == 0 || o.Algorithm != Origin, "threshold %v is not supported with alg origin", o.Threshold)
	v.check(o.MaskID >= 0, "mask-id must not be negative, got %d", o.MaskID)
	v.check(o.PadID >= 0, "pad-id must not be negative, got %d", o.PadID)
	return v.err("dream options")
}

// checkVocab checks the special ids against the denoiser's vocabulary size.
func (o *DreamOptions) checkVocab(vocab int) error {
	var v validator
	v.vocab(vocab)
	v.id("mask-id", o.MaskID, vocab)
	v.id("pad-id", o.PadID, vocab)
	return v.err("dream options")
}

// validator collects problems so Validate reports all of them at once.
type validator struct{ problems []string }

func (v *validator) add(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validator) check(ok bool, format string, args ...any) {
	if !ok {
		v.add(format, args...)
	}
}

// nonNegative requires a finite x ≥ 0.
func (v *validator) nonNegative(field string, x float64) {
	v.check(x >= 0 && !math.IsInf(x, 1), "%s must be a finite number >= 0, got %v", field, x)
}

// unit requires x in [0, 1].
func (v *validator) unit(field string, x float64) {
	v.check(x >= 0 && x <= 1, "%s must be in [0, 1], got %v", field, x)
}

// vocab requires room for the mask id and at least one other token.
func (v *validator) vocab(n int) {
	v.check(n >= 2, "the denoiser's vocabulary must have at least 2 tokens, got %d", n)
}

// id requires an id below the vocabulary size; −1 (none) passes.
func (v *validator) id(field string, id, vocab int) {
	v.check(id < vocab, "%s %d is outside the denoiser's vocabulary of %d tokens", field, id, vocab)
}

func (v *validator) err(what string) error {
	if len(v.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalidInput, what, strings.Join(v.problems, "; "))
}
