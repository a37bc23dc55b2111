package fleet

import (
	"fmt"
	"testing"

	"github.com/openpdm/pdm/simulators"
)

// BenchmarkRunToFailure is the proof of bench/predict.md: for each seed,
// train on 100 generated failed units and test on 100 others cut off
// before failure; it reports RMSE in cycles (fleet model, plain linear
// regression on the same features, the trend rule where it predicts),
// the 90 % interval's coverage and width. Run with -benchtime 1x.
func BenchmarkRunToFailure(b *testing.B) {
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		b.Run(fmt.Sprintf("seed=%d", seed), func(b *testing.B) {
			var ev evaluation
			for b.Loop() {
				var err error
				if ev, err = evaluate(seed, 100, 100); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(ev.fleetRMSE, "fleet_rmse")
			b.ReportMetric(ev.fleetRMSECapped, "fleet_rmse_capped")
			b.ReportMetric(ev.linearRMSE, "linear_rmse")
			b.ReportMetric(ev.linearRMSECapped, "linear_rmse_capped")
			b.ReportMetric(ev.coverage, "coverage")
			b.ReportMetric(ev.width, "width")
			b.ReportMetric(ev.report.ValidationRMSE, "validation_rmse")
			b.ReportMetric(ev.report.ValidationCoverage, "validation_coverage")
			b.ReportMetric(float64(ev.trendPredicts), "trend_predicted")
			if ev.trendPredicts > 0 {
				b.ReportMetric(ev.trendRMSE, "trend_rmse")
			}
			b.Logf("seed %d: chosen %s lambda=%g k=%d; cv %v; trend gates %v", seed, ev.report.Kind, ev.report.Lambda, ev.report.K, ev.report.CV, ev.trendReasons)
		})
	}
}

// BenchmarkTrain is the cost of one training: 100 failed units of 10
// sensors (about 21,500 cut points of 91 features), 4-fold choice among
// 4 ridges, 2 kNNs, 3 HI kNNs, 3 quadratic HI ridges and three means,
// calibration; model=ridge-knn without the health index's models (the
// default before them).
func BenchmarkTrain(b *testing.B) {
	f := simulators.RunToFailure(1, simulators.RunToFailureOptions{Units: 100})
	units := toUnits(f)
	spec := Spec{Metrics: f.Sensors}
	for _, model := range []string{"default", "ridge-knn"} {
		b.Run("model="+model, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := Train(units, spec, Options{Seed: 1, withoutHI: model == "ridge-knn"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCMAPSSShape is BenchmarkRunToFailure on fleets of the public
// benchmark's shape (simulators.RunToFailureOptions.CMAPSS): 3 settings
// and 21 sensors, 6 of them constant; one operating condition (FD001)
// and six (FD002). model=default is the default training (ridge or kNN
// by CV, conditions from the settings, the health index's kNN and
// quadratic ridge and means); model=ensemble adds the trees and
// the ensembles (Options.Trees); model=ridge-knn is the default before
// the health index (2026-11-30 02:08Z: ridge or kNN); model=before is the
// model of
// 2026-11-29: lambdas 0.001-1 and no operating conditions (less the
// constant sensors, which make no features either way).
func BenchmarkCMAPSSShape(b *testing.B) {
	for _, model := range []string{"default", "ensemble", "ridge-knn", "before"} {
		for _, conds := range []int{1, 6} {
			for _, seed := range []uint64{1, 2, 3, 4, 5} {
				b.Run(fmt.Sprintf("model=%s/conditions=%d/seed=%d", model, conds, seed), func(b *testing.B) {
					opts, settings := Options{Seed: seed, Trees: model == "ensemble"}, []string(nil)
					switch model {
					case "ridge-knn":
						opts.withoutHI = true
					case "before":
						opts.Lambdas, settings, opts.withoutHI = []float64{0.001, 0.01, 0.1, 1}, []string{}, true
					}
					var ev evaluation
					for b.Loop() {
						var err error
						shape := simulators.RunToFailureOptions{CMAPSS: true, Conditions: conds}
						if ev, err = evaluateWith(seed, 100, 100, shape, opts, settings); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(ev.fleetRMSE, "fleet_rmse")
					b.ReportMetric(ev.fleetRMSECapped, "fleet_rmse_capped")
					b.ReportMetric(ev.linearRMSE, "linear_rmse")
					b.ReportMetric(ev.linearRMSECapped, "linear_rmse_capped")
					b.ReportMetric(ev.coverage, "coverage")
					b.ReportMetric(ev.width, "width")
					b.ReportMetric(ev.youngRMSECapped, "young_rmse_capped")
					b.ReportMetric(ev.youngCoverage, "young_coverage")
					b.Logf("%s conditions %d seed %d: chosen %s; conditions found %d; cv %v", model, conds, seed, ev.report.Kind,
						ev.report.Conditions, ev.report.CV)
				})
			}
		}
	}
}
