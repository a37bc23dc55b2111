package predict_test

import (
	"fmt"
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
				reportScenario(b, fmt.Sprintf("held-out stress fleet, %s, seed %s", iv, seed), r)
			})
		}
	}
}
