package fleet

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Norm turns a history's rows into the rows features are taken of:
// each row's operating condition is the nearest of Centers over the
// settings columns, and every feature column is z-scored with its
// condition's mean and scale, so a change of operating point is not
// read as wear. Columns that carry nothing (constant within every
// condition) and the settings themselves make no features.
type Norm struct {
	// Settings are the settings' columns in the input rows; SetMean and
	// SetScale standardise them before the nearest centre is sought.
	Settings []int     `json:"settings,omitempty"`
	SetMean  []float64 `json:"set_mean,omitempty"`
	SetScale []float64 `json:"set_scale,omitempty"`
	// Centers are the conditions' centres over the standardised settings
	// (one centre: a single condition).
	Centers [][]float64 `json:"centers,omitempty"`
	// Use are the input columns that make features; Mean[c][j] and
	// Scale[c][j] z-score Use[j] in condition c.
	Use   []int       `json:"use"`
	Mean  [][]float64 `json:"mean"`
	Scale [][]float64 `json:"scale"`
}

// IsSetting tells whether a metric name reads as an operating setting
// (CMAPSS's setting1-3, op_setting_1...): Train takes such metrics as
// settings when Spec.Settings names none.
func IsSetting(name string) bool { return strings.Contains(name, "setting") }

// maxConditions bounds the operating conditions Train looks for.
const maxConditions = 8

// fitNorm fits the normalisation of the input rows of units: conditions
// by k-means over the standardised settings (the fewest conditions,
// 1 to maxConditions, that leave under 0.1 % of the settings' spread
// within them, best of three starts; one when none does: settings that
// only jitter around one point, as CMAPSS FD001's, leave about 1/k), then each column's mean and scale
// per condition.
func fitNorm(units []Unit, metrics, settings []string, seed uint64) *Norm {
	nm := &Norm{}
	for k, m := range metrics {
		if slices.Contains(settings, m) {
			nm.Settings = append(nm.Settings, k)
		}
	}
	// A sample of rows (at most 20,000) for the conditions.
	var all [][]float64
	for _, u := range units {
		all = append(all, u.Rows...)
	}
	stride := max(1, len(all)/20000)
	var sample [][]float64
	for i := 0; i < len(all); i += stride {
		sample = append(sample, all[i])
	}
	nm.Centers = [][]float64{make([]float64, len(nm.Settings))}
	if len(nm.Settings) > 0 {
		nm.SetMean = make([]float64, len(nm.Settings))
		nm.SetScale = make([]float64, len(nm.Settings))
		for j, k := range nm.Settings {
			m, s := meanScale(sample, k)
			nm.SetMean[j], nm.SetScale[j] = m, s
		}
		pts := make([][]float64, len(sample))
		for i, r := range sample {
			pts[i] = nm.settingsOf(r, nil)
		}
		total := 0.0
		_, total = kmeans(pts, 1, seed)
		for k := 2; k <= maxConditions && total > 0; k++ {
			// The best of three starts: a start that merges two
			// conditions must not hide them.
			var c [][]float64
			sse := math.Inf(1)
			for try := range uint64(3) {
				if cc, s := kmeans(pts, k, seed+try); s < sse {
					c, sse = cc, s
				}
			}
			if sse <= 0.001*total {
				nm.Centers = c
				break
			}
		}
		if len(nm.Centers) == 1 {
			nm.Centers[0], _ = centroid(pts)
		}
	}
	// Per condition, each column's mean and scale.
	nc := len(nm.Centers)
	type acc struct{ n, s, ss, lo, hi float64 }
	accs := make([][]acc, nc)
	for c := range accs {
		accs[c] = make([]acc, len(metrics))
		for k := range accs[c] {
			accs[c][k].lo, accs[c][k].hi = math.Inf(1), math.Inf(-1)
		}
	}
	z := make([]float64, len(nm.Settings))
	for _, r := range all {
		c := nm.condition(r, z)
		for k, v := range r {
			if !math.IsNaN(v) {
				a := &accs[c][k]
				a.n++
				a.s += v
				a.ss += v * v
				a.lo = math.Min(a.lo, v)
				a.hi = math.Max(a.hi, v)
			}
		}
	}
	for k := range metrics {
		if slices.Contains(nm.Settings, k) {
			continue
		}
		means, scales := make([]float64, nc), make([]float64, nc)
		informative := false
		for c := range nc {
			a := accs[c][k]
			if a.n == 0 {
				scales[c] = 1
				continue
			}
			m := a.s / a.n
			sd := math.Sqrt(math.Max(0, a.ss/a.n-m*m))
			means[c] = m
			scales[c] = sd
			// Constant within the condition: no information.
			if a.hi > a.lo {
				informative = true
			}
			if a.hi == a.lo || scales[c] <= 1e-9*math.Max(1, math.Abs(m)) {
				scales[c] = 1
			}
		}
		if !informative {
			continue
		}
		nm.Use = append(nm.Use, k)
		for c := range nc {
			if len(nm.Mean) < nc {
				nm.Mean = append(nm.Mean, nil)
				nm.Scale = append(nm.Scale, nil)
			}
			nm.Mean[c] = append(nm.Mean[c], means[c])
			nm.Scale[c] = append(nm.Scale[c], scales[c])
		}
	}
	return nm
}

// settingsOf writes row's standardised settings into z (grown as needed).
func (nm *Norm) settingsOf(row, z []float64) []float64 {
	z = z[:0]
	for j, k := range nm.Settings {
		v := row[k]
		if math.IsNaN(v) {
			v = nm.SetMean[j]
		}
		z = append(z, (v-nm.SetMean[j])/nm.SetScale[j])
	}
	return z
}

// condition is the row's condition; z is scratch.
func (nm *Norm) condition(row, z []float64) int {
	if len(nm.Centers) <= 1 {
		return 0
	}
	z = nm.settingsOf(row, z)
	return nearest(nm.Centers, z)
}

// Apply gives the feature rows of input rows: per row, the used
// columns z-scored in the row's condition (NaN stays NaN).
func (nm *Norm) Apply(rows [][]float64) [][]float64 {
	out := make([][]float64, len(rows))
	z := make([]float64, len(nm.Settings))
	flat := make([]float64, len(rows)*len(nm.Use))
	for i, r := range rows {
		c := nm.condition(r, z)
		o := flat[i*len(nm.Use) : (i+1)*len(nm.Use) : (i+1)*len(nm.Use)]
		for j, k := range nm.Use {
			o[j] = (r[k] - nm.Mean[c][j]) / nm.Scale[c][j]
		}
		out[i] = o
	}
	return out
}

// applyEnds is Apply for the rows Spec.Features reads at the last row:
// the first head and the last tail rows; the others are left nil.
func (nm *Norm) applyEnds(rows [][]float64, head, tail int) [][]float64 {
	n := len(rows)
	out := make([][]float64, n)
	z := make([]float64, len(nm.Settings))
	w := len(nm.Use)
	flat := make([]float64, 0, (min(head, n)+min(tail, n))*w)
	for i, r := range rows {
		if i >= head && i < n-tail {
			continue
		}
		c := nm.condition(r, z)
		at := len(flat)
		for j, k := range nm.Use {
			flat = append(flat, (r[k]-nm.Mean[c][j])/nm.Scale[c][j])
		}
		out[i] = flat[at : at+w : at+w]
	}
	return out
}

func meanScale(rows [][]float64, k int) (float64, float64) {
	var n, s, ss float64
	for _, r := range rows {
		if v := r[k]; !math.IsNaN(v) {
			n++
			s += v
			ss += v * v
		}
	}
	if n == 0 {
		return 0, 1
	}
	m := s / n
	sd := math.Sqrt(math.Max(0, ss/n-m*m))
	if sd <= 1e-9*math.Max(1, math.Abs(m)) {
		sd = 1
	}
	return m, sd
}

func nearest(centers [][]float64, p []float64) int {
	best, bd := 0, math.Inf(1)
	for c, ct := range centers {
		var d float64
		for j, v := range ct {
			e := p[j] - v
			d += e * e
		}
		if d < bd {
			best, bd = c, d
		}
	}
	return best
}

func centroid(pts [][]float64) ([]float64, float64) {
	c := make([]float64, len(pts[0]))
	for _, p := range pts {
		for j, v := range p {
			c[j] += v
		}
	}
	for j := range c {
		c[j] /= float64(len(pts))
	}
	var sse float64
	for _, p := range pts {
		for j, v := range p {
			sse += (v - c[j]) * (v - c[j])
		}
	}
	return c, sse
}

// kmeans clusters pts into k groups (k-means++ start from seed, at most
// 30 rounds of Lloyd's); it returns the centres and the within-group sum
// of squares.
func kmeans(pts [][]float64, k int, seed uint64) ([][]float64, float64) {
	if k <= 1 || len(pts) <= k {
		c, sse := centroid(pts)
		return [][]float64{c}, sse
	}
	r := rand.New(rand.NewPCG(seed, 0xc1a55))
	centers := [][]float64{slices.Clone(pts[r.IntN(len(pts))])}
	d := make([]float64, len(pts))
	for len(centers) < k {
		var sum float64
		for i, p := range pts {
			c := centers[nearest(centers, p)]
			var e float64
			for j, v := range c {
				e += (p[j] - v) * (p[j] - v)
			}
			d[i] = e
			sum += e
		}
		if sum == 0 {
			break
		}
		x := r.Float64() * sum
		i := 0
		for ; i < len(pts)-1 && x > d[i]; i++ {
			x -= d[i]
		}
		centers = append(centers, slices.Clone(pts[i]))
	}
	assign := make([]int, len(pts))
	var sse float64
	for round := range 30 {
		changed := false
		sse = 0
		for i, p := range pts {
			c := nearest(centers, p)
			if c != assign[i] || round == 0 {
				changed = changed || c != assign[i]
				assign[i] = c
			}
			for j, v := range centers[c] {
				sse += (p[j] - v) * (p[j] - v)
			}
		}
		if !changed && round > 0 {
			break
		}
		sums := make([][]float64, len(centers))
		counts := make([]float64, len(centers))
		for c := range sums {
			sums[c] = make([]float64, len(pts[0]))
		}
		for i, p := range pts {
			counts[assign[i]]++
			for j, v := range p {
				sums[assign[i]][j] += v
			}
		}
		for c := range centers {
			if counts[c] == 0 {
				continue
			}
			for j := range centers[c] {
				centers[c][j] = sums[c][j] / counts[c]
			}
		}
	}
	return centers, sse
}
