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

package autotune

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Settings is one choice of the tuned cache settings.
type Settings struct {
	// PromptInterval is K_p, ResponseInterval K_r, in forward passes.
	PromptInterval, ResponseInterval int32
	// TransferPercent is rho, in percent.
	TransferPercent int32
}

func (s Settings) String() string {
	return fmt.Sprintf("K_p=%d K_r=%d rho=%d%%", s.PromptInterval, s.ResponseInterval, s.TransferPercent)
}

// aggressiveAs reports whether s saves at least as much as o in every setting: the cache's
// agreement can only be lower (the surface is monotone in each setting).
func (s Settings) aggressiveAs(o Settings) bool {
	return s.PromptInterval >= o.PromptInterval && s.ResponseInterval >= o.ResponseInterval &&
		s.TransferPercent <= o.TransferPercent
}

// Range is a closed range of one setting; Min == Max fixes it.
type Range struct{ Min, Max int32 }

func (r Range) clamp(v int32) int32 { return min(max(v, r.Min), r.Max) }

// Config is what the spec says about tuning, with the policy's own parameters.
type Config struct {
	// Prompt, Response and Transfer bound K_p, K_r and rho.
	Prompt, Response, Transfer Range
	// Floor is the lowest acceptable mean agreement with the uncached output, in (0, 1].
	Floor float64
	// LatencyTarget, when set, is a p95 request latency that is good enough: exploration stops
	// once the best settings meet it. Zero minimises latency.
	LatencyTarget time.Duration

	// MinSamples is how many shadow-checked requests a candidate needs before it is judged
	// (default 40).
	MinSamples int
	// Z is the one-sided normal quantile of the confidence bounds on agreement over a
	// settings' samples (default 2.326: 99 %). One window alone reverts only on stronger
	// evidence (windowZ), so that noise does not undo converged settings.
	Z float64
	// Gain is the relative drop in mean latency a candidate must show to replace the best
	// settings (default 0.03): hysteresis against noise.
	Gain float64
	// Budget is how many candidates one exploration may try (default 12).
	Budget int
	// Shift is the relative change of the mean prompt or response length that starts a new
	// exploration (default 0.3).
	Shift float64
}

// withDefaults fills in the policy parameters left zero.
func (c Config) withDefaults() Config {
	if c.MinSamples <= 0 {
		c.MinSamples = 40
	}
	if c.Z <= 0 {
		c.Z = 2.326
	}
	if c.Gain <= 0 {
		c.Gain = 0.03
	}
	if c.Budget <= 0 {
		c.Budget = 12
	}
	if c.Shift <= 0 {
		c.Shift = 0.3
	}
	return c
}

// Window is what was observed over one scrape interval, across the ready pods, under one
// settings generation.
type Window struct {
	// Settings are the settings the observations were made under.
	Settings Settings
	// Requests is how many requests completed; MeanLatency and P95Latency are their latency.
	Requests    int
	MeanLatency time.Duration
	P95Latency  time.Duration
	// Samples is how many of them were also computed without the cache, Agreement their mean
	// share of equal response tokens and AgreementVar its variance across them.
	Samples      int
	Agreement    float64
	AgreementVar float64
	// PromptTokens and ResponseTokens are the requests' mean prompt and response lengths.
	PromptTokens, ResponseTokens float64
}

// Stats accumulates windows of one settings choice.
type Stats struct {
	Requests int `json:"requests"`
	Samples  int `json:"samples"`
	// LatencySum and P95Sum are sums over requests of each window's mean and p95 latency, in
	// seconds; AgreedSum and SquaresSum are sums over samples of agreement and its square.
	LatencySum float64 `json:"latencySum"`
	P95Sum     float64 `json:"p95Sum"`
	AgreedSum  float64 `json:"agreedSum"`
	SquaresSum float64 `json:"squaresSum"`
}

// add folds a window in. Old windows fade once there are plenty, so the best settings' record
// follows a drifting workload instead of averaging over all time.
func (s *Stats) add(w Window, plenty int) {
	if s.Samples > plenty {
		// Each sum shrinks with its own count's integer halving, so the means stay exactly what
		// they were: halving an odd count and its sum alike raised them (an agreement of 1.003).
		requests, samples := s.Requests/2, s.Samples/2
		r, a := shrink(requests, s.Requests), shrink(samples, s.Samples)
		s.LatencySum, s.P95Sum, s.AgreedSum, s.SquaresSum = s.LatencySum*r, s.P95Sum*r, s.AgreedSum*a, s.SquaresSum*a
		s.Requests, s.Samples = requests, samples
	}
	n := float64(w.Requests)
	s.Requests += w.Requests
	s.LatencySum += n * w.MeanLatency.Seconds()
	s.P95Sum += n * w.P95Latency.Seconds()
	s.Samples += w.Samples
	s.AgreedSum += float64(w.Samples) * w.Agreement
	s.SquaresSum += float64(w.Samples) * (w.AgreementVar + w.Agreement*w.Agreement)
}

// shrink is the factor a count of was becomes when it is now: now/was, 0 for an empty count.
func shrink(now, was int) float64 {
	if was == 0 {
		return 0
	}
	return float64(now) / float64(was)
}

// Latency is the mean request latency.
func (s Stats) Latency() time.Duration {
	if s.Requests == 0 {
		return 0
	}
	return time.Duration(s.LatencySum / float64(s.Requests) * float64(time.Second))
}

// P95 is the request-weighted mean of the windows' p95 latencies.
func (s Stats) P95() time.Duration {
	if s.Requests == 0 {
		return 0
	}
	return time.Duration(s.P95Sum / float64(s.Requests) * float64(time.Second))
}

// Agreement is the mean agreement of the shadow samples.
func (s Stats) Agreement() float64 {
	if s.Samples == 0 {
		return 0
	}
	return s.AgreedSum / float64(s.Samples)
}

// Bounds are the one-sided confidence bounds on the mean agreement at normal quantile z.
func (s Stats) Bounds(z float64) (lo, hi float64) {
	if s.Samples == 0 {
		return 0, 1
	}
	n := float64(s.Samples)
	mean := s.AgreedSum / n
	return bounds(mean, max(0, s.SquaresSum/n-mean*mean), s.Samples, z)
}

// windowZ is the normal quantile (99.9 %) at which a single window's agreement reverts.
const windowZ = 3.09

// minSD is the smallest standard deviation of per-request agreement the bounds assume: a few
// samples that happen to agree exactly say little about the next ones.
const minSD = 0.01

// bounds are the bounds on a mean of n samples with the given variance, by Student's t: z is
// widened for small n (a Cornish-Fisher expansion of the t quantile, within 2 % of it from
// n = 5 on). A single sample bounds nothing.
func bounds(mean, variance float64, n int, z float64) (lo, hi float64) {
	if n < 2 {
		return 0, 1
	}
	df := float64(n - 1)
	t := z + (z*z*z+z)/(4*df) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*df*df)
	half := t * max(math.Sqrt(variance), minSD) / math.Sqrt(float64(n))
	return max(0, mean-half), min(1, mean+half)
}

// Phase is where the tuner stands.
type Phase string

const (
	// PhaseExploring is measuring the best settings or a candidate, with candidates left to try.
	PhaseExploring Phase = "Exploring"
	// PhaseConverged is keeping the best settings and watching them.
	PhaseConverged Phase = "Converged"
)

// State is the tuner's memory between decisions.
type State struct {
	Phase Phase `json:"phase"`
	// Best are the settings kept, and BestStats what was observed under them.
	Best      Settings `json:"best"`
	BestStats Stats    `json:"bestStats"`
	// Accepted are the settings accepted so far, oldest first, Best last: where a revert goes.
	Accepted []Settings `json:"accepted,omitempty"`
	// Candidate, when set, is being measured instead of Best.
	Candidate *Settings `json:"candidate,omitempty"`
	CandStats Stats     `json:"candidateStats"`
	// Infeasible fell below the floor and Rejected were not faster, in this exploration.
	Infeasible []Settings `json:"infeasible,omitempty"`
	Rejected   []Settings `json:"rejected,omitempty"`
	// Tried counts this exploration's candidates.
	Tried int `json:"tried"`
	// PromptTokens and ResponseTokens are the workload's mean lengths when this exploration
	// started (zero until a window with requests is seen).
	PromptTokens   float64 `json:"promptTokens"`
	ResponseTokens float64 `json:"responseTokens"`
}

// maxAccepted bounds State.Accepted.
const maxAccepted = 16

// Start is the state of a tuner that starts from the spec's settings s, clamped into bounds.
func Start(cfg Config, s Settings) State {
	s = Settings{cfg.Prompt.clamp(s.PromptInterval), cfg.Response.clamp(s.ResponseInterval), cfg.Transfer.clamp(s.TransferPercent)}
	return State{Phase: PhaseExploring, Best: s, Accepted: []Settings{s}}
}

// Active are the settings the pods should run now.
func (s State) Active() Settings {
	if s.Candidate != nil {
		return *s.Candidate
	}
	return s.Best
}

// Action names what a decision does.
type Action string

const (
	// ActionMeasure keeps the active settings to gather more observations.
	ActionMeasure Action = "Measure"
	// ActionExplore switches to a candidate.
	ActionExplore Action = "Explore"
	// ActionAccept makes the candidate the best settings.
	ActionAccept Action = "Accept"
	// ActionReject returns from a candidate that is feasible but not faster.
	ActionReject Action = "Reject"
	// ActionRevert leaves settings whose agreement fell below the floor.
	ActionRevert Action = "Revert"
	// ActionConverge ends an exploration.
	ActionConverge Action = "Converge"
	// ActionHold keeps converged settings.
	ActionHold Action = "Hold"
	// ActionReexplore starts a new exploration after the workload shifted.
	ActionReexplore Action = "Reexplore"
	// ActionIgnore skips a window made under settings that are no longer active.
	ActionIgnore Action = "Ignore"
)

// Decision is one step of the tuner: what it did, from which settings to which, and why.
type Decision struct {
	Action   Action
	From, To Settings
	Reason   string
}

// Changed reports whether the decision changes the active settings.
func (d Decision) Changed() bool { return d.From != d.To }

// Next folds a window into the state and decides. The caller applies Decision.To (in Apply
// mode) and keeps the returned state.
func Next(cfg Config, st State, w Window) (State, Decision) {
	cfg = cfg.withDefaults()
	st = st.clone()
	from := st.Active()
	decide := func(a Action, format string, args ...any) (State, Decision) {
		return st, Decision{Action: a, From: from, To: st.Active(), Reason: fmt.Sprintf(format, args...)}
	}
	if w.Settings != from {
		return decide(ActionIgnore, "window measured %s, not the active %s (not yet applied everywhere)", w.Settings, from)
	}
	if w.Requests > 0 && st.PromptTokens == 0 && st.ResponseTokens == 0 {
		st.PromptTokens, st.ResponseTokens = w.PromptTokens, w.ResponseTokens
	}
	if st.Phase == PhaseConverged && w.Requests > 0 && st.shifted(w, cfg.Shift) {
		old := fmt.Sprintf("%.0f/%.0f", st.PromptTokens, st.ResponseTokens)
		st.reexplore(w)
		return decide(ActionReexplore, "workload shifted: mean prompt/response tokens %s -> %.0f/%.0f; exploring again from %s",
			old, w.PromptTokens, w.ResponseTokens, st.Best)
	}

	stats := &st.BestStats
	if st.Candidate != nil {
		stats = &st.CandStats
	}
	stats.add(w, 4*cfg.MinSamples)
	// A violation needs no more samples once the upper bound is below the floor: in this window
	// alone, or over everything seen under these settings.
	_, winHi := bounds(w.Agreement, w.AgreementVar, w.Samples, windowZ)
	lo, hi := stats.Bounds(cfg.Z)
	if w.Samples > 0 && (winHi < cfg.Floor || hi < cfg.Floor) {
		return st.revert(cfg, from, min(winHi, hi), stats.Samples)
	}
	if stats.Samples < cfg.MinSamples {
		return decide(ActionMeasure, "%s: %d of %d shadow samples", from, stats.Samples, cfg.MinSamples)
	}

	if st.Candidate != nil {
		return st.judge(cfg, lo)
	}
	if st.Phase == PhaseConverged {
		return decide(ActionHold, "%s: agreement %.3f (lower bound %.3f, floor %.3f), mean latency %s",
			st.Best, st.BestStats.Agreement(), lo, cfg.Floor, st.BestStats.Latency().Round(time.Millisecond))
	}
	return st.explore(cfg, lo)
}

// judge decides on a candidate that has enough samples, whose agreement has lower bound lo:
// accept it if that is above the floor and it is faster than the best settings by the
// hysteresis margin; otherwise go back to the best settings.
func (st State) judge(cfg Config, lo float64) (State, Decision) {
	from := *st.Candidate
	cand, best := st.CandStats, st.BestStats
	st.Candidate, st.CandStats = nil, Stats{}
	decide := func(a Action, format string, args ...any) (State, Decision) {
		return st, Decision{Action: a, From: from, To: st.Active(), Reason: fmt.Sprintf(format, args...)}
	}
	if lo < cfg.Floor {
		st.Infeasible = append(st.Infeasible, from)
		return decide(ActionRevert, "%s: agreement %.3f, lower bound %.3f below the floor %.3f after %d samples; back to %s",
			from, cand.Agreement(), lo, cfg.Floor, cand.Samples, st.Best)
	}
	if float64(cand.Latency()) > float64(best.Latency())*(1-cfg.Gain) {
		st.Rejected = append(st.Rejected, from)
		return decide(ActionReject, "%s: mean latency %s is not %.0f%% below %s's %s; back to %s",
			from, cand.Latency().Round(time.Millisecond), 100*cfg.Gain, st.Best, best.Latency().Round(time.Millisecond), st.Best)
	}
	st.Best, st.BestStats = from, cand
	st.Accepted = append(st.Accepted, from)
	if len(st.Accepted) > maxAccepted {
		st.Accepted = st.Accepted[len(st.Accepted)-maxAccepted:]
	}
	return decide(ActionAccept, "%s: mean latency %s against %s, agreement %.3f (lower bound %.3f, floor %.3f, %d samples)",
		from, cand.Latency().Round(time.Millisecond), best.Latency().Round(time.Millisecond), cand.Agreement(), lo, cfg.Floor, cand.Samples)
}

// explore moves on from measured best settings, whose agreement has lower bound lo: to the
// next candidate, or to convergence when the latency target is met, the budget is spent or no
// candidate is left.
func (st State) explore(cfg Config, lo float64) (State, Decision) {
	from := st.Best
	decide := func(a Action, format string, args ...any) (State, Decision) {
		return st, Decision{Action: a, From: from, To: st.Active(), Reason: fmt.Sprintf(format, args...)}
	}
	if t := cfg.LatencyTarget; t > 0 && st.BestStats.P95() <= t {
		st.Phase = PhaseConverged
		return decide(ActionConverge, "%s meets the latency target: p95 %s <= %s", st.Best, st.BestStats.P95().Round(time.Millisecond), t)
	}
	if st.Tried >= cfg.Budget {
		st.Phase = PhaseConverged
		return decide(ActionConverge, "exploration budget of %d candidates spent; keeping %s", cfg.Budget, st.Best)
	}
	next, ok := st.candidate(cfg)
	if !ok {
		st.Phase = PhaseConverged
		return decide(ActionConverge, "no faster neighbour of %s left to try within bounds; keeping it", st.Best)
	}
	st.Candidate, st.CandStats = &next, Stats{}
	st.Tried++
	return decide(ActionExplore, "trying %s after %s held agreement %.3f (lower bound %.3f) at mean latency %s",
		next, st.Best, st.BestStats.Agreement(), lo, st.BestStats.Latency().Round(time.Millisecond))
}

// revert leaves active settings whose agreement's upper bound hi fell below the floor.
func (st State) revert(cfg Config, from Settings, hi float64, samples int) (State, Decision) {
	st.Infeasible = append(st.Infeasible, from)
	why := fmt.Sprintf("%s: agreement upper bound %.3f below the floor %.3f (%d samples)", from, hi, cfg.Floor, samples)
	decision := func(reason string) (State, Decision) {
		return st, Decision{Action: ActionRevert, From: from, To: st.Active(), Reason: why + "; " + reason}
	}
	if st.Candidate != nil {
		st.Candidate, st.CandStats = nil, Stats{}
		return decision("back to " + st.Best.String())
	}
	// The best settings themselves fail: the surface moved, or the spec's start was too
	// aggressive. Go back to what was accepted before, or else one step safer.
	st.Phase, st.BestStats = PhaseExploring, Stats{}
	st.Accepted = st.Accepted[:len(st.Accepted)-1]
	if n := len(st.Accepted); n > 0 {
		st.Best = st.Accepted[n-1]
		return decision("back to the previously accepted " + st.Best.String())
	}
	safer := from
	switch {
	case cfg.Response.clamp(from.ResponseInterval/2) != from.ResponseInterval:
		safer.ResponseInterval = cfg.Response.clamp(from.ResponseInterval / 2)
	case cfg.Prompt.clamp(from.PromptInterval/2) != from.PromptInterval:
		safer.PromptInterval = cfg.Prompt.clamp(from.PromptInterval / 2)
	default:
		safer.TransferPercent = cfg.Transfer.clamp(from.TransferPercent + 10)
	}
	st.Best, st.Accepted = safer, []Settings{safer}
	if safer == from {
		st.Phase = PhaseConverged
		return decision("no safer settings within bounds; keeping " + from.String())
	}
	return decision("stepping to the safer " + safer.String())
}

// candidate is the first untried neighbour of Best that should be faster: a longer response
// interval, a longer prompt interval, a smaller transfer ratio, in that order (the response is
// refreshed far more often than the prompt); then trades that give up some of one saving for
// more of another (a shorter response interval for a much smaller transfer ratio, or the
// reverse), which reach settings that single steps toward the floor cannot.
func (st State) candidate(cfg Config) (Settings, bool) {
	b := st.Best
	up := func(v int32, r Range, factor float64) int32 {
		return r.clamp(max(v+1, int32(math.Ceil(float64(v)*factor))))
	}
	r := b.ResponseInterval
	if r >= 4 {
		r = up(r, cfg.Response, 1.25)
	} else {
		r = cfg.Response.clamp(r + 1)
	}
	for _, c := range []Settings{
		{b.PromptInterval, r, b.TransferPercent},
		{up(b.PromptInterval, cfg.Prompt, 2), b.ResponseInterval, b.TransferPercent},
		{b.PromptInterval, b.ResponseInterval, cfg.Transfer.clamp(b.TransferPercent - 10)},
		{b.PromptInterval, cfg.Response.clamp(b.ResponseInterval - 1), cfg.Transfer.clamp(b.TransferPercent - 20)},
		{b.PromptInterval, r, cfg.Transfer.clamp(b.TransferPercent + 10)},
	} {
		if c == b || slices.Contains(st.Rejected, c) || slices.Contains(st.Accepted, c) {
			continue
		}
		if slices.ContainsFunc(st.Infeasible, c.aggressiveAs) {
			continue
		}
		return c, true
	}
	return Settings{}, false
}

// shifted reports whether w's workload differs from the exploration's by more than tol.
func (st State) shifted(w Window, tol float64) bool {
	rel := func(now, was float64) bool { return was > 0 && math.Abs(now-was)/was > tol }
	return rel(w.PromptTokens, st.PromptTokens) || rel(w.ResponseTokens, st.ResponseTokens)
}

// reexplore starts a new exploration from Best under w's workload.
func (st *State) reexplore(w Window) {
	st.Phase, st.BestStats = PhaseExploring, Stats{}
	st.Candidate, st.CandStats = nil, Stats{}
	st.Infeasible, st.Rejected, st.Tried = nil, nil, 0
	st.PromptTokens, st.ResponseTokens = w.PromptTokens, w.ResponseTokens
}

// clone copies the state's slices so Next never changes its argument.
func (st State) clone() State {
	st.Accepted = slices.Clone(st.Accepted)
	st.Infeasible = slices.Clone(st.Infeasible)
	st.Rejected = slices.Clone(st.Rejected)
	if st.Candidate != nil {
		c := *st.Candidate
		st.Candidate = &c
	}
	return st
}
