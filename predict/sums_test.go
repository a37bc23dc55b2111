package predict

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
)

// The O(1) pre-check from running sums stops a refit only where the full
// fit would stop with the same reason, on flat, falling, slowly and
// quickly rising series, and on wear with warm-ups on top (whose ends the
// full fit looks behind).
func TestQuickCheckAgreesWithFit(t *testing.T) {
	r := vibRule()
	r.Predict.Window = rules.Duration(12 * time.Hour)
	for _, c := range []struct {
		slope float64
		warm  bool
	}{{-0.01, false}, {0, false}, {0.001, false}, {0.02, false}, {0.2, false}, {0.02, true}} {
		slope, warm := c.slope, c.warm
		rng := rand.New(rand.NewPCG(7, uint64(math.Float64bits(slope))))
		s := New(Options{}).NewSeries(&r, testAsset).(*Series)
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		stopped, checked := 0, 0
		for i := range 3 * 24 * 60 {
			ts := t0.Add(time.Duration(i) * time.Minute)
			h := float64(i) / 60
			v := 2.2 + slope*h + 0.1*math.Sin(h/3) + 0.05*rng.NormFloat64()
			if warm && math.Mod(h, 10) < 6 {
				v += 1.2 * -math.Expm1(-math.Mod(h, 10))
			}
			s.add(ts, v)
			if i%7 != 0 || len(s.buckets) < 3 {
				continue
			}
			checked++
			if q := s.quickCheck(); q != "" {
				stopped++
				require.Equal(t, Fit(s.Points(), &r, FitOptions{}).Reason, q, "slope %g at %s", slope, ts)
			}
		}
		t.Logf("slope %g (warm-ups %v): %d of %d refits stopped at the running-sum pre-check", slope, warm, stopped, checked)
		if slope <= 0 {
			require.Greater(t, stopped, checked/2)
		}
	}
}
