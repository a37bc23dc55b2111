package predict_test

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/simulators/eval"
	"github.com/openpdm/pdm/workorders"
)

// replayEvalScenario is the offline path of the evaluation: the built-in
// eval scenario (at the given sampling interval) is generated in memory
// and each asset's readings are replayed through its rule with the
// predictor (rules.Replay), the way the platform's engine sees them. Each
// asset's first order-raising signal per failure mode becomes an order
// (the platform's auto orders are idempotent per asset and failure mode,
// and nothing completes them during the run); the orders are scored with
// pdm-sim's evaluation.
func replayEvalScenario(t testing.TB, now time.Time, interval time.Duration, opts predict.Options) eval.Report {
	return replayScenario(t, "eval", now, interval, opts)
}

// replayScenario replays a built-in scenario offline (see
// replayEvalScenario).
func replayScenario(t testing.TB, name string, now time.Time, interval time.Duration, opts predict.Options) eval.Report {
	t.Helper()
	return replayScenarioSeed(t, name, "", now, interval, opts)
}

// replayScenarioSeed is replayScenario with the scenario's seed replaced
// (seed "" keeps it): a fleet of the same make-up the predictor has not
// seen.
func replayScenarioSeed(t testing.TB, name, seed string, now time.Time, interval time.Duration, opts predict.Options) eval.Report {
	t.Helper()
	yml, err := simulators.BuiltinScenario(name)
	if strings.HasSuffix(name, ".yaml") { // a scenario file (testdata)
		yml, err = os.ReadFile(name)
	}
	require.NoError(t, err)
	if seed != "" {
		yml = regexp.MustCompile(`(?m)^seed: .*$`).ReplaceAll(yml, []byte("seed: "+seed))
	}
	yml = regexp.MustCompile(`(?m)^interval: .*$`).ReplaceAll(yml, []byte("interval: "+interval.String()))
	s, err := simulators.ParseScenario(yml, now)
	require.NoError(t, err)
	end, ok := s.End()
	require.True(t, ok)

	// Assets are independent: replay them on every core.
	per := make([][]eval.Order, len(s.Assets))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				per[i] = replayAsset(s, s.Assets[i], end, opts)
			}
		}()
	}
	for i := range s.Assets {
		next <- i
	}
	close(next)
	wg.Wait()
	var orders []eval.Order
	for _, o := range per {
		orders = append(orders, o...)
	}
	return eval.Evaluate(s.Truth(), orders, eval.Options{})
}

// TestEvalScenarioOffline holds the predictor to the evaluation's targets
// on the eval scenario without the platform around it (the proof through
// the platform is cmd/pdm's TestEvaluationScenario): every gradual failure
// caught at least 24 h ahead, no false alarm, no duplicate, and the
// remaining life at order time within bounds per degradation.
func TestEvalScenarioOffline(t *testing.T) {
	r := replayEvalScenario(t, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 30*time.Minute, predict.Options{})
	targets := eval.DefaultTargets()
	t.Logf("offline evaluation (30 min sampling):\n%s", r.Markdown(targets))
	pass, miss := r.Pass(targets)
	require.True(t, pass, "%v", miss)
	require.Equal(t, 1.0, r.Recall)
	require.Empty(t, r.FalseAlarms)
	require.Zero(t, r.Duplicates)
	// Remaining life at order time: the onset of linear wear must not
	// read as acceleration (it did: median 79% early), and real
	// acceleration stays accurate.
	rel := map[simulators.Degradation]float64{}
	for _, st := range r.RULByDegradation {
		rel[st.Degradation] = st.MedianRel
	}
	require.LessOrEqual(t, rel[simulators.Linear], 0.5, "linear wear: median relative remaining-life error")
	require.LessOrEqual(t, rel[simulators.Exponential], 0.2, "exponential wear: median relative remaining-life error")
}

// BenchmarkStressScenario measures issue 15's targets on the stress
// scenario (too slow for the race-enabled suite, so a benchmark:
// scripts/bench-predict.sh writes its figures to bench/predict.md):
// healthy assets whose metrics warm up, run in, shift operating point,
// swing with the seasons, drift and drop out, next to gradual failures,
// some with the same disturbances. Reported: recall at ≥ 24 h lead, false
// alarms per 100 healthy asset-months and duplicates, on the scenario's
// own seed, on fleets of the same make-up (other seeds; 6 and 7 held out
// from development), and with the levelling checks, daily cycles and
// confirmation span off (the fit as before issue 15). The sub-benchmarks
// without a prefix sample hourly; those under interval=10m sample at the
// scenario's own 10 minutes (the issue measures fleets as they report,
// and sampling is not ours to choose): BenchmarkStressScenario/interval=10m
// alone runs those.
func BenchmarkStressScenario(b *testing.B) {
	off := predict.Options{ConfirmSpan: -1, Fit: predict.FitOptions{NoLevelling: true, NoDaily: true}}
	type run struct {
		name, seed string
		opts       predict.Options
	}
	seeds := []run{
		{"seed=977", "", predict.Options{}},
		{"seed=1", "1", predict.Options{}},
		{"seed=2", "2", predict.Options{}},
		{"seed=3", "3", predict.Options{}},
		{"seed=4", "4", predict.Options{}},
		{"seed=5", "5", predict.Options{}},
		// Held out: never looked at while the predictor was developed
		// (report them apart from the six above).
		{"seed=6/held-out", "6", predict.Options{}},
		{"seed=7/held-out", "7", predict.Options{}},
	}
	hourly := append(append([]run{}, seeds...), run{"seed=977/checks=off", "", off})
	for _, tt := range hourly {
		b.Run(tt.name, func(b *testing.B) { benchStress(b, tt.name, tt.seed, time.Hour, tt.opts) })
	}
	b.Run("interval=10m", func(b *testing.B) {
		for _, tt := range seeds {
			b.Run(tt.name, func(b *testing.B) { benchStress(b, "10 min, "+tt.name, tt.seed, 10*time.Minute, tt.opts) })
		}
	})
}

// benchStress replays the stress scenario on one seed at one sampling
// interval and reports its recall, false alarms and duplicates.
func benchStress(b *testing.B, name, seed string, interval time.Duration, opts predict.Options) {
	var r eval.Report
	for range b.N {
		r = replayScenarioSeed(b, "stress", seed, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), interval, opts)
	}
	reportScenario(b, "stress scenario, "+name, r)
}

// reportScenario reports a replayed scenario's recall, false alarms and
// duplicates, and logs its table with the false alarms and misses.
func reportScenario(b *testing.B, title string, r eval.Report) {
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
	b.Logf("%s:\n%s\n%s", title, r.Markdown(eval.DefaultTargets()), sb.String())
}

// replayAsset replays one asset's readings through its rules and returns
// its first order-raising signal per failure mode as orders.
func replayAsset(s *simulators.Scenario, m *simulators.Model, end time.Time, opts predict.Options) []eval.Order {
	var orders []eval.Order
	// A failing asset's readings end a day after its failure: later
	// orders would not be scored, and the fits of a broken machine
	// only cost time.
	stop := end
	if p := m.Profile(); p.Degradation == simulators.Linear || p.Degradation == simulators.Exponential {
		if f := p.FailAt.Add(24 * time.Hour); f.Before(end) {
			stop = f
		}
	}
	var rds []ingest.Reading
	for ts := s.Start; ts.Before(stop); ts = ts.Add(s.Interval) {
		if rd, ok := m.Reading(s.Site, ts); ok {
			rds = append(rds, rd)
		}
	}
	asset := rules.AssetRef{Site: s.Site, Code: m.Code(), ID: m.Code(), Type: m.Type().Name}
	raised := map[string]bool{}
	for j := range s.Rules {
		r := s.Rules[j]
		if r.AssetType != asset.Type {
			continue
		}
		r.ID = r.Name
		for _, sig := range rules.Replay(&r, asset, rds, []rules.Observer{predict.New(opts)}) {
			if !rules.RaisesOrder(sig) || raised[r.FailureMode] {
				continue
			}
			raised[r.FailureMode] = true
			o := eval.Order{Number: m.Code() + "/" + r.FailureMode, AssetCode: m.Code(), Source: string(sig.Kind),
				FailureMode: r.FailureMode, Status: "proposed", CreatedAt: sig.DetectedAt, DetectedAt: sig.DetectedAt}
			if sig.Prediction != nil {
				o.PredictedFailureAt = sig.Prediction.CrossingAt
			}
			orders = append(orders, o)
		}
	}
	return orders
}

// BenchmarkRigScenario measures "one cause, one order"
// (simulators/scenarios/rig.yaml, hourly sampling): on six rigs one
// bearing wears out and shakes its three neighbours (35 % of its rise).
// grouping=off: every asset's first order-raising signal is an order, as
// before grouping; grouping=on: the signals of all assets in time order go
// through workorders.ChooseLeader the way the platform's auto-order path
// does (a rig is the code's prefix before "-", the assets' common parent
// on the platform), and a linked signal raises no order.
func BenchmarkRigScenario(b *testing.B) {
	for _, grouping := range []bool{false, true} {
		b.Run(fmt.Sprintf("grouping=%v", grouping), func(b *testing.B) {
			var r eval.Report
			var linked int
			for range b.N {
				r, linked = replayRig(b, grouping)
			}
			b.ReportMetric(r.Recall, "recall")
			b.ReportMetric(float64(len(r.FalseAlarms)), "neighbour_orders")
			b.ReportMetric(float64(linked), "linked_signals")
			b.ReportMetric(r.FalseAlarmsPer100, "false_alarms/100_asset_months")
			var sb strings.Builder
			for _, f := range r.FalseAlarms {
				fmt.Fprintf(&sb, "false alarm: %s %s at %s\n", f.Asset, f.Source, f.DetectedAt.Format(time.RFC3339))
			}
			b.Logf("rig scenario, grouping=%v:\n%s\n%s", grouping, r.Markdown(eval.DefaultTargets()), sb.String())
		})
	}
}

// TestRigScenarioGrouping: with grouping, the rig scenario gives one order
// per failing bearing and none for the neighbours it shakes.
func TestRigScenarioGrouping(t *testing.T) {
	r, linked := replayRig(t, true)
	require.Equal(t, 1.0, r.Recall)
	require.Empty(t, r.FalseAlarms)
	require.Positive(t, linked)
}

// replayRig replays the rig scenario at hourly sampling; with grouping,
// order-raising signals of assets without an order of their own are
// linked to a neighbour's order when workorders.ChooseLeader says so.
func replayRig(t testing.TB, grouping bool) (eval.Report, int) {
	t.Helper()
	yml, err := simulators.BuiltinScenario("rig")
	require.NoError(t, err)
	yml = regexp.MustCompile(`(?m)^interval: .*$`).ReplaceAll(yml, []byte("interval: 1h"))
	s, err := simulators.ParseScenario(yml, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	end, ok := s.End()
	require.True(t, ok)
	type assetSig struct {
		code, mode string
		sig        rules.Signal
	}
	per := make([][]assetSig, len(s.Assets))
	var wg sync.WaitGroup
	for i, m := range s.Assets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, sg := range replayAssetSignals(s, m, end, predict.Options{}) {
				per[i] = append(per[i], assetSig{m.Code(), sg.mode, sg.sig})
			}
		}()
	}
	wg.Wait()
	var all []assetSig
	for _, p := range per {
		all = append(all, p...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].sig.DetectedAt.Before(all[j].sig.DetectedAt) })
	group := func(code string) string { g, _, _ := strings.Cut(code, "-"); return g }
	type open struct {
		leader workorders.Leader
		group  string
	}
	opened := map[string]*open{} // by code/mode
	var orders []eval.Order
	linked := 0
	for _, a := range all {
		key := a.code + "/" + a.mode
		if o := opened[key]; o != nil {
			if p := a.sig.Prediction; p != nil {
				o.leader.CrossingEarliest = p.CrossingEarliest
				if math.Abs(p.Slope) > math.Abs(o.leader.Slope) {
					o.leader.Slope = p.Slope // the steepest rise of the leader's order
				}
			} else {
				o.leader.Breach = a.sig.Kind == rules.KindThreshold // keeps its last fitted slope
			}
			continue
		}
		if grouping {
			var leaders []workorders.Leader
			for k, o := range opened {
				if o.group == group(a.code) && strings.HasSuffix(k, "/"+a.mode) {
					leaders = append(leaders, o.leader)
				}
			}
			if _, ok := workorders.ChooseLeader(a.sig, leaders); ok {
				linked++
				continue
			}
		}
		l := workorders.Leader{OrderID: key, AssetID: a.code, DetectedAt: a.sig.DetectedAt, Breach: a.sig.Kind == rules.KindThreshold}
		o := eval.Order{Number: key, AssetCode: a.code, Source: string(a.sig.Kind), FailureMode: a.mode,
			Status: "proposed", CreatedAt: a.sig.DetectedAt, DetectedAt: a.sig.DetectedAt}
		if p := a.sig.Prediction; p != nil {
			o.PredictedFailureAt = p.CrossingAt
			l.Slope, l.CrossingEarliest = p.Slope, p.CrossingEarliest
		}
		opened[key] = &open{leader: l, group: group(a.code)}
		orders = append(orders, o)
	}
	return eval.Evaluate(s.Truth(), orders, eval.Options{}), linked
}

type modeSignal struct {
	mode string
	sig  rules.Signal
}

// replayAssetSignals replays one asset's readings through its rules and
// returns every order-raising signal (see replayAsset).
func replayAssetSignals(s *simulators.Scenario, m *simulators.Model, end time.Time, opts predict.Options) []modeSignal {
	stop := end
	if p := m.Profile(); p.Degradation == simulators.Linear || p.Degradation == simulators.Exponential {
		if f := p.FailAt.Add(24 * time.Hour); f.Before(end) {
			stop = f
		}
	}
	var rds []ingest.Reading
	for ts := s.Start; ts.Before(stop); ts = ts.Add(s.Interval) {
		if rd, ok := m.Reading(s.Site, ts); ok {
			rds = append(rds, rd)
		}
	}
	asset := rules.AssetRef{Site: s.Site, Code: m.Code(), ID: m.Code(), Type: m.Type().Name}
	var out []modeSignal
	for j := range s.Rules {
		r := s.Rules[j]
		if r.AssetType != asset.Type {
			continue
		}
		r.ID = r.Name
		for _, sig := range rules.Replay(&r, asset, rds, []rules.Observer{predict.New(opts)}) {
			if rules.RaisesOrder(sig) {
				out = append(out, modeSignal{r.FailureMode, sig})
			}
		}
	}
	return out
}
