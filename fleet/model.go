package fleet

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Model kinds.
const (
	KindRidge    = "ridge"
	KindKNN      = "knn"
	KindGBT      = "gbt"
	KindEnsemble = "ensemble"
	KindHIKNN    = "hi-knn"
	KindHIQuad   = "hi-quad"
)

// Model is a trained remaining-life model of one asset type: plain data,
// stored as JSON.
type Model struct {
	Kind string `json:"kind"`
	Spec Spec   `json:"spec"`
	// Norm turns input rows (one value per Spec.Metrics) into the rows
	// features are taken of (nil: the rows as they are).
	Norm *Norm `json:"norm,omitempty"`
	// Mean and Scale standardise the features.
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
	// Ridge: y = Intercept + Coef · standardised features.
	Lambda    float64   `json:"lambda,omitempty"`
	Coef      []float64 `json:"coef,omitempty"`
	Intercept float64   `json:"intercept"`
	// KNN: the mean target of the K nearest stored points over the
	// standardised features Select, distances weighted by Weight.
	K       int         `json:"k,omitempty"`
	Select  []int       `json:"select,omitempty"`
	Weight  []float64   `json:"weight,omitempty"`
	Points  [][]float64 `json:"points,omitempty"`
	Targets []float64   `json:"targets,omitempty"`
	// HI-kNN: the KNN fields over the health-index features of the
	// features (Spec.hiProject), HI the index's weight per feature metric.
	HI []float64 `json:"hi,omitempty"`
	// GBT: y = Base + the sum of Trees over the raw features.
	Base  float64 `json:"base,omitempty"`
	Trees []Tree  `json:"trees,omitempty"`
	// Ensemble: the mean of the Members' estimates (the members take
	// features as the ensemble's Spec says, after its Norm).
	Members []Model `json:"members,omitempty"`
	// Coverage is the nominal coverage of the interval; Intervals are its
	// half-widths in steps for predictions in each of len(Intervals)
	// equal bins of [0, Cap] (split-conformal on held-out failures, per
	// bin: errors grow with the remaining life, and an interval near the
	// failure should not be as wide as one far from it).
	Coverage  float64   `json:"coverage"`
	Intervals []float64 `json:"intervals"`
	// LeadSeconds is the type's order lead: an order is raised when the
	// interval's lower bound is within it (0: the platform's default).
	LeadSeconds float64 `json:"lead_seconds,omitempty"`
	// OrderMargin is the type's order rule: an order is raised when
	// RUL − OrderMargin × (the interval's half-width) is within the lead
	// (1: the interval's lower bound, 0: the point estimate; nil:
	// DefaultOrderMargin).
	OrderMargin *float64 `json:"order_margin,omitempty"`
	// WithTrees tells whether the training had the trees and ensembles
	// among its candidates (kept by retraining).
	WithTrees bool `json:"with_trees,omitempty"`
}

// DefaultOrderMargin is the order rule of a type that sets none, chosen
// by measurement (fleet.TestOrderRule, bench/predict.md "Which estimate
// raises the order"): 0.75 for the ridge of 2026-11-29, 0.7 since the
// default models have the health index (more units ordered a whole lead
// ahead and fewer more than two leads early than 0.75 with the ridge).
const DefaultOrderMargin = 0.7

// Margin is the model's order margin (DefaultOrderMargin when unset).
func (m *Model) Margin() float64 {
	if m.OrderMargin == nil {
		return DefaultOrderMargin
	}
	return *m.OrderMargin
}

// OrderDue tells whether an estimate of remaining life rul with an
// interval of half-width half calls for an order with the given lead
// (all three in the same unit): rul − Margin·half ≤ lead.
func (m *Model) OrderDue(rul, half, lead float64) bool {
	return orderDue(rul, half, lead, m.Margin())
}

func orderDue(rul, half, lead, margin float64) bool { return rul-margin*half <= lead }

// Estimate is a model's answer for one history, in steps.
type Estimate struct {
	RUL   float64 `json:"rul"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// Features are the history's features (named by Spec.Names).
	Features []float64 `json:"features"`
}

// ErrShortHistory is returned when a history has fewer rows than the
// model needs (Spec.ScoreRows).
var ErrShortHistory = errors.New("history shorter than the model needs")

// Predict estimates the remaining life after the last of rows.
func (m *Model) Predict(rows [][]float64) (Estimate, error) {
	if len(rows) < m.Spec.ScoreRows() {
		return Estimate{}, fmt.Errorf("%d rows, need %d: %w", len(rows), m.Spec.ScoreRows(), ErrShortHistory)
	}
	for i, r := range rows {
		if len(r) != len(m.Spec.Metrics) {
			return Estimate{}, fmt.Errorf("row %d has %d values, want %d", i, len(r), len(m.Spec.Metrics))
		}
	}
	if m.Norm != nil {
		// Features read the first baselineSteps rows and the longest
		// window's: only those are normalised.
		rows = m.Norm.applyEnds(rows, baselineSteps, m.Spec.reach())
	}
	x := m.Spec.Features(rows, len(rows)-1, nil)
	y := m.predict(x, make([]float64, len(x)))
	q := m.interval(y)
	return Estimate{RUL: y, Lower: math.Max(0, y-q), Upper: y + q, Features: x}, nil
}

// interval is the half-width for a prediction y.
func (m *Model) interval(y float64) float64 {
	return m.Intervals[bin(y, m.Spec.Cap, len(m.Intervals))]
}

// bin is the bin of y among n equal bins of [0, cap].
func bin(y, cap float64, n int) int {
	return min(max(int(y/cap*float64(n)), 0), n-1)
}

// predict scores raw features x; z is scratch of the same length.
func (m *Model) predict(x, z []float64) float64 {
	var y float64
	switch m.Kind {
	case KindGBT:
		y = m.Base
		for i := range m.Trees {
			y += m.Trees[i].predict(x)
		}
	case KindEnsemble:
		for i := range m.Members {
			mm := &m.Members[i]
			y += mm.predict(x, z)
		}
		y /= float64(len(m.Members))
	case KindHIKNN:
		h := m.Spec.hiProject(x, m.HI, make([]float64, 0, m.Spec.hiWidth()))
		y = m.knnMeans(m.standardised(h, z[:len(h)]), []int{m.K})[0]
	case KindHIQuad:
		q := hiQuad(m.Spec.hiProject(x, m.HI, make([]float64, 0, m.Spec.hiWidth())), nil)
		q = m.standardised(q, q)
		y = m.Intercept
		for j, c := range m.Coef {
			y += c * q[j]
		}
	case KindKNN:
		z = m.standardised(x, z)
		y = m.knnMeans(z, []int{m.K})[0]
	default:
		z = m.standardised(x, z)
		y = m.Intercept
		for j, c := range m.Coef {
			y += c * z[j]
		}
	}
	return math.Min(math.Max(y, 0), m.Spec.Cap)
}

// standardised writes x's standardised features into z and returns it.
func (m *Model) standardised(x, z []float64) []float64 {
	for j := range x {
		z[j] = (x[j] - m.Mean[j]) / m.Scale[j]
	}
	return z
}

// knnMeans is the mean target of the k nearest stored points for each k
// of ks (none above m.K), clamped to [0, Cap], from one search.
func (m *Model) knnMeans(z []float64, ks []int) []float64 {
	k := min(m.K, len(m.Points))
	q := make([]float64, len(m.Select))
	for c, j := range m.Select {
		q[c] = z[j]
	}
	// The k best so far, kept sorted by distance (k is small); worst is
	// the distance a point must beat.
	best := make([]struct{ d, y float64 }, 0, k+1)
	worst := math.Inf(1)
	for i, p := range m.Points {
		p = p[:len(q)]
		var d float64
		for j, w := range m.Weight[:len(q)] {
			e := p[j] - q[j]
			d += w * e * e
			if d >= worst {
				break
			}
		}
		if d >= worst {
			continue
		}
		at, _ := slices.BinarySearchFunc(best, d, func(b struct{ d, y float64 }, d float64) int {
			switch {
			case b.d < d:
				return -1
			case b.d > d:
				return 1
			}
			return 0
		})
		best = slices.Insert(best, at, struct{ d, y float64 }{d, m.Targets[i]})
		if len(best) > k {
			best = best[:k]
		}
		if len(best) == k {
			worst = best[k-1].d
		}
	}
	out := make([]float64, len(ks))
	for i, kk := range ks {
		n := min(kk, len(best))
		var s float64
		for _, b := range best[:n] {
			s += b.y
		}
		out[i] = math.Min(math.Max(s/float64(n), 0), m.Spec.Cap)
	}
	return out
}

// standardise sets m.Mean and m.Scale from the rows of x.
func (m *Model) standardise(x [][]float64) {
	w := len(x[0])
	m.Mean = make([]float64, w)
	m.Scale = make([]float64, w)
	for _, r := range x {
		for j, v := range r {
			m.Mean[j] += v
		}
	}
	for j := range m.Mean {
		m.Mean[j] /= float64(len(x))
	}
	for _, r := range x {
		for j, v := range r {
			d := v - m.Mean[j]
			m.Scale[j] += d * d
		}
	}
	for j := range m.Scale {
		m.Scale[j] = math.Sqrt(m.Scale[j] / float64(len(x)))
		if m.Scale[j] < 1e-12 {
			m.Scale[j] = 1
		}
	}
}

// fitRidges fits y = b0 + β·z on standardised z for each λ of lambdas,
// minimising |y − b0 − Zβ|² + λ·n·|β|² (λ = 0: ordinary least squares),
// from one Gram matrix.
func fitRidges(spec Spec, x [][]float64, y []float64, lambdas []float64) ([]Model, error) {
	var base Model
	base.standardise(x)
	n, w := len(x), len(x[0])
	var ym float64
	for _, v := range y {
		ym += v
	}
	ym /= float64(n)
	z := mat.NewDense(n, w, nil)
	for i, r := range x {
		row := z.RawRowView(i)
		for j, v := range r {
			row[j] = (v - base.Mean[j]) / base.Scale[j]
		}
	}
	yc := mat.NewVecDense(n, nil)
	for i, v := range y {
		yc.SetVec(i, v-ym)
	}
	var ztz mat.SymDense
	ztz.SymOuterK(1, z.T())
	var zty mat.VecDense
	zty.MulVec(z.T(), yc)
	out := make([]Model, 0, len(lambdas))
	for _, lambda := range lambdas {
		a := mat.NewSymDense(w, nil)
		a.CopySym(&ztz)
		// A tiny ridge keeps OLS solvable when features are collinear.
		reg := math.Max(lambda*float64(n), 1e-9*float64(n))
		for j := range w {
			a.SetSym(j, j, a.At(j, j)+reg)
		}
		var ch mat.Cholesky
		if !ch.Factorize(a) {
			return nil, errors.New("ridge: normal equations not positive definite")
		}
		var beta mat.VecDense
		if err := ch.SolveVecTo(&beta, &zty); err != nil {
			return nil, fmt.Errorf("ridge: %w", err)
		}
		m := Model{Kind: KindRidge, Spec: spec, Lambda: lambda, Mean: base.Mean, Scale: base.Scale, Intercept: ym,
			Coef: make([]float64, w)}
		for j := range w {
			m.Coef[j] = beta.AtVec(j)
		}
		out = append(out, m)
	}
	return out, nil
}

// knnFeatures is how many features a kNN model compares.
const knnFeatures = 16

// fitKNN stores (a stride of) the standardised points on the knnFeatures
// features most correlated with the target, weighted by corr², so
// features that carry nothing about the remaining life do not drown the
// ones that do.
func fitKNN(spec Spec, x [][]float64, y []float64, k, maxPoints int) Model {
	m := Model{Kind: KindKNN, Spec: spec, K: k}
	m.standardise(x)
	n, w := len(x), len(x[0])
	var ym, yv float64
	for _, v := range y {
		ym += v
	}
	ym /= float64(n)
	for _, v := range y {
		yv += (v - ym) * (v - ym)
	}
	weight := make([]float64, w)
	for j := range w {
		var c float64
		for i, r := range x {
			c += (r[j] - m.Mean[j]) / m.Scale[j] * (y[i] - ym)
		}
		if yv > 0 {
			r := c / math.Sqrt(yv*float64(n))
			weight[j] = r * r
		}
	}
	order := make([]int, w)
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(weight[b], weight[a]) })
	m.Select = order[:min(knnFeatures, w)]
	slices.Sort(m.Select)
	for _, j := range m.Select {
		m.Weight = append(m.Weight, weight[j])
	}
	stride := max(1, (n+maxPoints-1)/maxPoints)
	for i := 0; i < n; i += stride {
		p := make([]float64, len(m.Select))
		for c, j := range m.Select {
			p[c] = (x[i][j] - m.Mean[j]) / m.Scale[j]
		}
		m.Points = append(m.Points, p)
		m.Targets = append(m.Targets, y[i])
	}
	return m
}

// fitGBTModel boosts trees on the raw features.
func fitGBTModel(spec Spec, x [][]float64, y []float64, o GBTOptions, seed uint64) Model {
	base, trees := fitGBT(x, y, o, seed)
	return Model{Kind: KindGBT, Spec: spec, Base: base, Trees: trees}
}
