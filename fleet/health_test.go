package fleet

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

// The HI features taken from a feature vector are the features of the
// health index's own series: level, slope and rise are linear in the
// rows, so projecting the metrics' features equals taking the features
// of the projected rows (a wrong index into the feature layout fails).
func TestHIProjectIsTheIndexSeriesFeatures(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	spec := Spec{Metrics: []string{"a", "b", "c"}}.withDefaults()
	w := []float64{0.5, -2, 1.25}
	rows := make([][]float64, 150)
	hi := make([][]float64, len(rows))
	for i := range rows {
		rows[i] = []float64{r.NormFloat64(), float64(i) / 10 * r.Float64(), 3 + r.NormFloat64()}
		var h float64
		for k, wk := range w {
			h += wk * rows[i][k]
		}
		hi[i] = []float64{h}
	}
	one := Spec{Metrics: []string{"hi"}}.withDefaults()
	for _, end := range []int{29, 64, 149} {
		got := spec.hiProject(spec.Features(rows, end, nil), w, nil)
		f := one.Features(hi, end, nil)
		var want []float64
		for j := range spec.windows() {
			want = append(want, f[3*j], f[3*j+1])
		}
		want = append(want, f[3*len(spec.windows())], f[len(f)-1])
		require.Len(t, got, spec.hiWidth())
		require.InDeltaSlice(t, want, got, 1e-9, "end %d", end)
	}
}

// A model with the HI kNN or the quadratic HI ridge (alone or in an
// ensemble) stored as JSON and read back predicts the same.
func TestHIModelRoundTrip(t *testing.T) {
	f := simulators.RunToFailure(2, simulators.RunToFailureOptions{Units: 24})
	m, rep, err := Train(toUnits(f), Spec{Metrics: f.Sensors}, Options{Seed: 2})
	require.NoError(t, err)
	require.Contains(t, rep.CV, "hi-knn k=25")
	var ens int
	for name := range rep.CV {
		if strings.HasPrefix(name, "mean(ridge") && strings.Contains(name, "hi-knn") {
			ens++
		}
	}
	require.Equal(t, 2, ens, "the means of the best ridge and HI kNN, and of those and the quadratic HI ridge, are candidates: %v", rep.CV)
	require.Contains(t, rep.CV, "hi-quad lambda=0.001")
	x, y := cutPoints(m.Spec, normalised(m, toUnits(f)), math.Inf(1), true)
	hm, err := fitHIKNN(m.Spec, x, y, 10, 500)
	require.NoError(t, err)
	qs, err := fitHIQuads(m.Spec, x, y, []float64{0.001})
	require.NoError(t, err)
	for _, mm := range []Model{m, hm, qs[0], {Kind: KindEnsemble, Spec: m.Spec, Norm: m.Norm, Members: []Model{hm, qs[0]}, Intervals: m.Intervals}} {
		if mm.Intervals == nil {
			mm.Norm, mm.Intervals = m.Norm, m.Intervals
		}
		b, err := json.Marshal(mm)
		require.NoError(t, err)
		var back Model
		require.NoError(t, json.Unmarshal(b, &back))
		u := f.Units[5].Cycles[:150]
		a, err := mm.Predict(u)
		require.NoError(t, err)
		c, err := back.Predict(u)
		require.NoError(t, err)
		require.Equal(t, a.RUL, c.RUL, mm.Kind)
		require.True(t, a.RUL > 0 && a.RUL <= m.Spec.Cap, "%s: %g", mm.Kind, a.RUL)
	}
}
