// Package fleet learns an asset type's remaining life from its fleet's
// failure history: windowed features over several metrics, a ridge
// regression or a nearest-neighbour similarity to past trajectories (the
// one with the lower cross-validated error), and a split-conformal
// interval calibrated on failures held out of training. It is pure: the
// histories come in as rows of numbers, the model goes out as JSON, and
// cmd binds the stores.
package fleet

import (
	"errors"
	"fmt"
	"math"
)

// Spec says how a history becomes features; it is stored with the model,
// so a model always scores with the features it was trained on.
type Spec struct {
	// Metrics are the columns of a history's rows, in order.
	Metrics []string `json:"metrics"`
	// Windows are the trailing windows, in steps (default 5, 15 and 30),
	// over which each metric's level (mean), slope (per step) and spread
	// (standard deviation) are taken.
	Windows []int `json:"windows"`
	// Long are trailing windows, in steps, longer than a history need be
	// (a window takes what there is), over which each metric's level,
	// slope and spread are taken too (default 60 and 120; none in models
	// trained before 2026-11-30).
	Long []int `json:"long,omitempty"`
	// Cap is where the remaining-life target is capped, in steps (the
	// piecewise-linear target of the CMAPSS literature: early in a life
	// the remaining life cannot be told apart from the data, so the
	// target is min(RUL, Cap)).
	Cap float64 `json:"cap"`
	// StepSeconds is how long a step is on the platform (0 for data
	// counted in cycles).
	StepSeconds float64 `json:"step_seconds,omitempty"`
	// HistorySteps is how far back a history reaches on the platform, in
	// steps (0 for data counted in cycles): scoring reads the same span
	// training did, so the age feature means the same.
	HistorySteps int `json:"history_steps,omitempty"`
	// Settings are the operating settings among Metrics: they tell the
	// operating condition each row's values are normalised in (Norm) and
	// make no features themselves (default: the metrics IsSetting names).
	Settings []string `json:"settings,omitempty"`
	// MinSteps is the fewest steps a history needs to be scored, and a
	// training unit's first cut point: baselineSteps (10) for models
	// trained since 2026-11-30 (a window longer than a history takes what
	// there is, and the model learns from such short histories too); 0
	// before, when it was the longest window (MinRows).
	MinSteps int `json:"min_steps,omitempty"`
	// Use are the metrics that make features, set by Train: Metrics less
	// the settings and those that carry nothing (constant within every
	// condition); nil: all of Metrics.
	Use []string `json:"use,omitempty"`
}

// featureMetrics are the metrics features are taken of.
func (s Spec) featureMetrics() []string {
	if s.Use != nil {
		return s.Use
	}
	return s.Metrics
}

// DefaultCap is the usual CMAPSS cap of the remaining-life target.
const DefaultCap = 125

func (s Spec) withDefaults() Spec {
	if len(s.Windows) == 0 {
		s.Windows = []int{5, 15, 30}
	}
	if s.Long == nil {
		s.Long = []int{60, 120}
	}
	if s.Cap <= 0 {
		s.Cap = DefaultCap
	}
	if s.MinSteps <= 0 {
		s.MinSteps = baselineSteps
	}
	return s
}

func (s Spec) validate() error {
	var errs []error
	if len(s.Metrics) == 0 {
		errs = append(errs, errors.New("spec: no metrics"))
	}
	for _, w := range s.Windows {
		if w < 2 {
			errs = append(errs, fmt.Errorf("spec: window %d is under 2 steps", w))
		}
	}
	return errors.Join(errs...)
}

// MinRows is the fewest rows a history needs before it can be scored:
// the longest window.
func (s Spec) MinRows() int {
	m := 0
	for _, w := range s.Windows {
		m = max(m, w)
	}
	return m
}

// ScoreRows is the fewest rows a history needs to be scored: MinSteps,
// else (models trained before it) the longest window.
func (s Spec) ScoreRows() int {
	if s.MinSteps > 0 {
		return s.MinSteps
	}
	return s.MinRows()
}

// baselineSteps is how many first steps of a history its baseline
// averages.
const baselineSteps = 10

// Width is the number of features.
func (s Spec) Width() int { return len(s.featureMetrics())*(len(s.windows())*3+1) + 1 }

// windows are Windows then Long.
func (s Spec) windows() []int {
	if len(s.Long) == 0 {
		return s.Windows
	}
	return append(append([]int(nil), s.Windows...), s.Long...)
}

// reach is how many last rows the features read.
func (s Spec) reach() int {
	m := s.MinRows()
	for _, w := range s.Long {
		m = max(m, w)
	}
	return m
}

// Names are the features' names, in order, for the evidence of an order.
func (s Spec) Names() []string {
	n := make([]string, 0, s.Width())
	for _, m := range s.featureMetrics() {
		for _, w := range s.windows() {
			n = append(n, fmt.Sprintf("%s_level_%d", m, w), fmt.Sprintf("%s_slope_%d", m, w), fmt.Sprintf("%s_std_%d", m, w))
		}
		n = append(n, m+"_rise")
	}
	return append(n, "age")
}

// Features computes the features of rows[0..end] (inclusive) into dst
// (grown as needed) and returns it. Rows hold one value per feature
// metric (Use, else Metrics: a Model's rows after its Norm);
// NaN values (gaps) are skipped. Per metric: level, slope and spread over
// each window (a window longer than the history takes what there is),
// then the rise: the level over the longest window less the mean of the
// history's first 10 steps (how far the unit has moved from where it
// started, whatever its own starting level). The last feature is the
// age: the number of steps seen.
func (s Spec) Features(rows [][]float64, end int, dst []float64) []float64 {
	dst = dst[:0]
	longest := s.MinRows()
	ws := s.windows()
	for k := range s.featureMetrics() {
		for _, w := range ws {
			from := max(0, end-w+1)
			var n, st, sy, stt, sty, syy float64
			for i := from; i <= end; i++ {
				y := rows[i][k]
				if math.IsNaN(y) {
					continue
				}
				t := float64(i - end)
				n++
				st += t
				sy += y
				stt += t * t
				sty += t * y
				syy += y * y
			}
			if n == 0 {
				dst = append(dst, 0, 0, 0)
				continue
			}
			mean := sy / n
			slope := 0.0
			if d := n*stt - st*st; d > 0 {
				slope = (n*sty - st*sy) / d
			}
			sd := 0.0
			if n > 1 {
				sd = math.Sqrt(math.Max(0, (syy-n*mean*mean)/(n-1)))
			}
			dst = append(dst, mean, slope, sd)
		}
		dst = append(dst, meanOf(rows, k, max(0, end-longest+1), end)-meanOf(rows, k, 0, min(end, baselineSteps-1)))
	}
	return append(dst, float64(end+1))
}

// meanOf is the mean of column k over rows[from..to], gaps skipped (0
// when there is no value).
func meanOf(rows [][]float64, k, from, to int) float64 {
	var s, n float64
	for i := from; i <= to; i++ {
		if v := rows[i][k]; !math.IsNaN(v) {
			s += v
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / n
}
