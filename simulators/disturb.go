package simulators

import (
	"fmt"
	"math"
	"time"
)

// DisturbanceKind is a healthy behaviour that moves a metric without any
// failure behind it: what a predictor must not read as wear.
type DisturbanceKind string

// Disturbance kinds.
const (
	// Warmup: after a start, the metric rises by Amp with time constant
	// Tau (Amp·(1−e^(−t/Tau))) and falls back when the run of Length
	// ends; runs start in periods of Every with probability Prob.
	Warmup DisturbanceKind = "warmup"
	// RunIn: from At on, a new part settles: the metric rises by Amp with
	// time constant Tau and stays at the new level.
	RunIn DisturbanceKind = "runin"
	// Shift: a change of operating point, a step of Amp that holds for
	// Length; shifts start in periods of Every with probability Prob
	// (with Every 0, one shift from At on that stays).
	Shift DisturbanceKind = "shift"
	// Drift: the sensor drifts linearly by Amp over Tau, holds, and is
	// recalibrated (back to 0) when Length ends; in periods of Every with
	// probability Prob.
	Drift DisturbanceKind = "drift"
)

// Disturbance is one healthy movement of one metric.
type Disturbance struct {
	Kind   DisturbanceKind
	Metric string
	// Amp is the size of the movement in the metric's units (negative
	// moves down).
	Amp    float64
	Tau    time.Duration
	At     time.Time
	Every  time.Duration
	Length time.Duration
	Prob   float64
}

func (d Disturbance) validate(t Type) error {
	ms, ok := t.Metric(d.Metric)
	if !ok || ms.Counter {
		return fmt.Errorf("disturb %s: metric %q is not a non-counter metric of type %s", d.Kind, d.Metric, t.Name)
	}
	if !bounded(d.Amp) {
		return fmt.Errorf("disturb %s: amp must be finite (|v| ≤ 1e12)", d.Kind)
	}
	switch d.Kind {
	case Warmup, Drift:
		if d.Tau <= 0 {
			return fmt.Errorf("disturb %s: tau must be positive", d.Kind)
		}
	case RunIn:
		if d.Tau <= 0 || d.At.IsZero() {
			return fmt.Errorf("disturb runin: needs tau > 0 and at")
		}
		return nil
	case Shift:
		if d.Every == 0 {
			if d.At.IsZero() {
				return fmt.Errorf("disturb shift: needs at, or every, length and prob")
			}
			return nil
		}
	default:
		return fmt.Errorf("disturb: unknown kind %q (want warmup, runin, shift or drift)", d.Kind)
	}
	if d.Prob < 0 || d.Prob > 1 || !bounded(d.Prob) || d.Every < time.Second || d.Length <= 0 || d.Length > d.Every {
		return fmt.Errorf("disturb %s: needs every > 0, 0 < length ≤ every and prob within [0, 1]", d.Kind)
	}
	return nil
}

// periodic reports the start of the active stretch of the period holding
// t (Length long at a seeded offset in each period of Every, active with
// probability Prob) and whether t is inside it.
func periodic(key uint64, t time.Time, every, length time.Duration, prob float64, salt uint64) (time.Time, bool) {
	ev := every.Milliseconds()
	ms := t.UnixMilli()
	w := ms / ev
	if ms < 0 && ms%ev != 0 {
		w--
	}
	if unit(hash(key, uint64(w), salt)) >= prob {
		return time.Time{}, false
	}
	off := int64(unit(hash(key, uint64(w), salt+1)) * float64(ev-length.Milliseconds()))
	start := w*ev + off
	if ms < start || ms >= start+length.Milliseconds() {
		return time.Time{}, false
	}
	return time.UnixMilli(start), true
}

// offset is the disturbance's contribution to its metric at t.
func (d Disturbance) offset(key uint64, t time.Time) float64 {
	rise := func(since time.Duration) float64 {
		if since <= 0 {
			return 0
		}
		return d.Amp * -math.Expm1(-since.Seconds()/d.Tau.Seconds())
	}
	switch d.Kind {
	case RunIn:
		return rise(t.Sub(d.At))
	case Warmup:
		if s, ok := periodic(key, t, d.Every, d.Length, d.Prob, 20); ok {
			return rise(t.Sub(s))
		}
	case Shift:
		if d.Every == 0 {
			if !t.Before(d.At) {
				return d.Amp
			}
			return 0
		}
		if _, ok := periodic(key, t, d.Every, d.Length, d.Prob, 22); ok {
			return d.Amp
		}
	case Drift:
		if s, ok := periodic(key, t, d.Every, d.Length, d.Prob, 24); ok {
			return d.Amp * math.Min(1, t.Sub(s).Seconds()/d.Tau.Seconds())
		}
	}
	return 0
}
