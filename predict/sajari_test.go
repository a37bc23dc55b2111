package predict

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sajari/regression"
	"github.com/stretchr/testify/require"
)

// sajariCoeffs fits y (ln y for the exponential model) on hours (and
// hours²) with sajari/regression.
func sajariCoeffs(t *testing.T, name string, xs, ys []float64) []float64 {
	var rg regression.Regression
	rg.SetObserved(name)
	rg.SetVar(0, "hours")
	if name == ModelQuadratic {
		rg.SetVar(1, "hours2")
	}
	for i, x := range xs {
		y := ys[i]
		if name == ModelExponential {
			y = math.Log(y)
		}
		vars := []float64{x}
		if name == ModelQuadratic {
			vars = append(vars, x*x)
		}
		rg.Train(regression.DataPoint(y, vars))
	}
	require.NoError(t, rg.Run())
	out := []float64{rg.Coeff(0), rg.Coeff(1)}
	if name == ModelQuadratic {
		out = append(out, rg.Coeff(2))
	}
	return out
}

// The closed-form least squares of fitModel give sajari/regression's
// coefficients, on windows from 12 h to 7 days.
func TestFitModelMatchesSajari(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, span := range []float64{12, 48, 168} {
		for _, name := range []string{ModelLinear, ModelExponential, ModelQuadratic} {
			n := 72
			xs, ys := make([]float64, n), make([]float64, n)
			for i := range xs {
				xs[i] = -span + span*float64(i)/float64(n-1)
				ys[i] = 3 + 0.02*xs[i] + 0.0004*xs[i]*xs[i] + 0.1*rng.NormFloat64()
			}
			m, err := fitModel(name, xs, ys)
			require.NoError(t, err)
			want := sajariCoeffs(t, name, xs, ys)
			got := []float64{m.a, m.b, m.c}[:len(want)]
			for i := range want {
				require.InDelta(t, want[i], got[i], 1e-6*math.Max(1, math.Abs(want[i])), "%s over %g h, coefficient %d", name, span, i)
			}
		}
	}
}
