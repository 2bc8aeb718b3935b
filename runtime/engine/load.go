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

package engine

import (
	"math"
	"time"
)

// loadWindow is the time constant of the demand and capacity estimates: long enough to smooth
// single requests, short enough for an autoscaler to see a change of traffic within a minute.
const loadWindow = 30 * time.Second

// Load is the engine's occupancy and how much of its capacity the traffic asks for. Work is
// counted in row-steps: one denoising step of one request, a row of one forward pass.
type Load struct {
	// Queued is the number of requests waiting; InFlight the number being denoised.
	Queued, InFlight int
	// Slots is the most requests the engine denoises at once (batch size × workers).
	Slots int
	// PendingSteps is the row-steps admitted requests still need: all of a queued request's
	// steps, what a running one has left.
	PendingSteps int
	// DemandRate is the row-steps per second requests asked for over the last loadWindow
	// (exponentially weighted), refused requests included: they are demand the engine could
	// not serve.
	DemandRate float64
	// CapacityRate is the row-steps per second the engine delivered while busy over the same
	// window: it reflects the active cache settings and the batch sizes the traffic forms. 0
	// until the first step.
	CapacityRate float64
	// Saturation is DemandRate over CapacityRate: below 1 the engine keeps up, above 1 the
	// queue grows and requests are refused. 0 while no capacity has been measured.
	Saturation float64
}

// decayed is a sum whose terms fade with time constant loadWindow.
type decayed struct {
	sum float64
	at  time.Time
}

// add adds x at now.
func (d *decayed) add(x float64, now time.Time) {
	d.sum = d.value(now) + x
	d.at = now
}

// value returns the sum at now.
func (d *decayed) value(now time.Time) float64 {
	if d.at.IsZero() {
		return 0
	}
	return d.sum * math.Exp(-now.Sub(d.at).Seconds()/loadWindow.Seconds())
}

// meter estimates the engine's demand and capacity. The engine's mutex guards it.
type meter struct {
	start   time.Time // the engine's start: the demand window is shorter until loadWindow has passed
	demand  decayed   // row-steps requested
	work    decayed   // row-steps done
	busy    decayed   // seconds at least one worker was running a batch
	running int       // workers running a batch
	since   time.Time // when running last became positive
	pending int       // row-steps admitted and not yet done
}

// request notes a request of steps row-steps arriving at now.
func (m *meter) request(steps int, now time.Time) { m.demand.add(float64(steps), now) }

// runStart and runEnd bracket one worker's batch.
func (m *meter) runStart(now time.Time) {
	if m.running == 0 {
		m.since = now
	}
	m.running++
}

func (m *meter) runEnd(now time.Time) {
	if m.running--; m.running == 0 {
		m.busy.add(now.Sub(m.since).Seconds(), now)
	}
}

// load fills the rates of l at now.
func (m *meter) load(l *Load, now time.Time) {
	l.PendingSteps = m.pending
	window := min(now.Sub(m.start), loadWindow).Seconds()
	if window <= 0 {
		return
	}
	// A sum decayed with time constant τ over a steady rate r tends to r·τ; early on, the
	// elapsed time stands in for τ.
	l.DemandRate = m.demand.value(now) / window
	busy := m.busy.value(now)
	if m.running > 0 {
		busy += now.Sub(m.since).Seconds()
	}
	if work := m.work.value(now); busy > 0 && work > 0 {
		l.CapacityRate = work / busy
		l.Saturation = l.DemandRate / l.CapacityRate
	}
}
