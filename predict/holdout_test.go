package predict_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/simulators/eval"
)

// BenchmarkHoldoutScenario replays testdata/stress-holdout.yaml, a fleet
// of the stress scenario's kinds of healthy movement and failures with
// other amplitudes, time constants and rule windows, that the predictor
// was not developed on, on three seeds at hourly and 10-minute sampling:
//
//	go test ./predict -run '^$' -bench BenchmarkHoldoutScenario -benchtime 1x -v
//
// It reports recall (>= 24 h lead), false alarms per 100 healthy
// asset-months and duplicates, and lists the false alarms and misses.
func BenchmarkHoldoutScenario(b *testing.B) {
	for _, iv := range []time.Duration{time.Hour, 10 * time.Minute} {
		for _, seed := range []string{"31", "32", "33"} {
			b.Run(fmt.Sprintf("interval=%s/seed=%s", iv, seed), func(b *testing.B) {
				var r eval.Report
				for range b.N {
					r = replayScenarioSeed(b, "testdata/stress-holdout.yaml", seed,
						time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), iv, predict.Options{})
				}
				b.ReportMetric(r.Recall, "recall")
				b.ReportMetric(r.FalseAlarmsPer100, "false_alarms/100_asset_months")
				b.ReportMetric(float64(r.Duplicates), "duplicates")
				var sb strings.Builder
				for _, f := range r.FalseAlarms {
					fmt.Fprintf(&sb, "false alarm: %s %s at %s\n", f.Asset, f.Source, f.DetectedAt.Format(time.RFC3339))
				}
				for _, f := range r.Failures {
					if f.Gradual && !f.Pending && !f.Caught {
						fmt.Fprintf(&sb, "missed: %s (%s) failing %s, first order %s (lead %s)\n", f.Asset, f.Degradation,
							f.FailureAt.Format(time.RFC3339), f.FirstSource, f.Lead.Round(time.Minute))
					}
				}
				b.Logf("held-out stress fleet, %s, seed %s:\n%s", iv, seed, sb.String())
			})
		}
	}
}
