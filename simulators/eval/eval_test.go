package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return t0.Add(time.Duration(d * float64(24*time.Hour))) }

func ptr[T any](v T) *T { return &v }

func failing(code string, deg simulators.Degradation, onset, fail time.Time) simulators.AssetTruth {
	return simulators.AssetTruth{Code: code, Type: "pump", Profile: string(deg), Degradation: deg,
		Gradual: deg != simulators.Step, FailureMode: "bearing_wear", Metric: "vibration_rms",
		FailValue: ptr(7.1), Onset: &onset, FailureAt: &fail}
}

func handTruth() simulators.Truth {
	return simulators.Truth{Scenario: "t", Site: "S", Start: t0, End: ptr(day(60)), Assets: []simulators.AssetTruth{
		failing("A1", simulators.Exponential, day(10), day(20)),
		failing("A2", simulators.Linear, day(20), day(30)),
		failing("A3", simulators.Linear, day(30), day(40)),
		failing("A4", simulators.Step, day(50), day(50)),
		{Code: "A5", Type: "fan", Profile: "healthy", Degradation: simulators.None},
		{Code: "A6", Type: "fan", Profile: "seasonal", Degradation: simulators.None},
		failing("A7", simulators.Exponential, day(55), day(70)),
	}}
}

func ord(n, asset, source, mode string, at time.Time) Order {
	return Order{Number: n, AssetCode: asset, Source: source, FailureMode: mode, Status: "proposed",
		CreatedAt: at.Add(time.Second), DetectedAt: at}
}

func TestEvaluate(t *testing.T) {
	fail1 := day(20)
	trend := ord("WO-1", "A1", "trend", "bearing_wear", fail1.Add(-48*time.Hour))
	trend.PredictedFailureAt = fail1.Add(6 * time.Hour)
	dup := ord("WO-2", "A1", "trend", "bearing_wear", fail1.Add(-10*time.Hour)) // WO-1 still open
	closed := ord("WO-3", "A7", "threshold", "impeller_wear", day(56))
	closed.Status, closed.ClosedAt = "completed", day(57)
	afterClosed := ord("WO-4", "A7", "threshold", "impeller_wear", day(58)) // WO-3 closed: no duplicate
	orders := []Order{
		trend, dup,
		ord("WO-6", "A2", "threshold", "bearing_wear", day(30).Add(-2*time.Hour)), // later than WO-3
		closed, afterClosed,
		ord("WO-7", "A4", "event", "electrical_fault", day(50).Add(time.Minute)),
		ord("WO-8", "A5", "threshold", "bearing_wear", day(5)),                 // false alarm
		{Number: "WO-9", AssetCode: "A5", Source: "manual", CreatedAt: day(6)}, // manual: not scored
		ord("WO-10", "A7", "trend", "bearing_wear", day(58)),                   // pending failure, early warning
		ord("WO-11", "A1", "threshold", "seal_leak", day(2)),                   // before onset: false alarm
		ord("WO-12", "A6", "threshold", "bearing_wear", day(-3)),               // another run: ignored
		ord("WO-13", "ZZ", "threshold", "bearing_wear", day(3)),                // unknown asset: ignored
		ord("WO-14", "A3", "threshold", "bearing_wear", day(42)),               // 2 days after A3 failed: late
	}
	r := Evaluate(handTruth(), orders, Options{})

	require.Equal(t, 24*time.Hour, r.Lead)
	require.Equal(t, 12, r.AutoOrders)
	require.Equal(t, 1, r.LateOrders)
	require.Equal(t, 2, r.IgnoredOrders)
	require.Equal(t, 3, r.GradualFailures)
	require.Equal(t, 2, r.GradualDetected)
	require.Equal(t, 1, r.GradualCaught)
	require.InDelta(t, 1.0/3, r.Recall, 1e-12)
	// Leads: A1 48 h, A2 2 h (too late).
	require.Equal(t, 25*time.Hour, r.MedianLead)
	require.Equal(t, 1, r.StepFaults)
	require.Equal(t, 1, r.StepDetected)
	require.Equal(t, time.Minute, r.MedianStepLatency)
	require.Equal(t, 1, r.PendingFailures)

	require.Len(t, r.FalseAlarms, 2)
	require.ElementsMatch(t, []string{"WO-8", "WO-11"}, []string{r.FalseAlarms[0].Number, r.FalseAlarms[1].Number})
	// Healthy days: A1 10, A2 20, A3 30, A4 50, A5 60, A6 60, A7 55 = 285.
	require.InDelta(t, 285.0/30, r.HealthyAssetMonths, 1e-9)
	require.InDelta(t, 2/(285.0/30)*100, r.FalseAlarmsPer100, 1e-9)

	require.Equal(t, 1, r.RULSamples)
	require.Equal(t, 6*time.Hour, r.MedianAbsRULError)
	require.Equal(t, 6*time.Hour, r.P90AbsRULError)
	require.InDelta(t, 6.0/48, r.MedianRelRULError, 1e-12)
	require.Equal(t, []RULStats{{Degradation: simulators.Exponential, Samples: 1, MedianAbs: 6 * time.Hour,
		P90Abs: 6 * time.Hour, MedianRel: 6.0 / 48, P90Rel: 6.0 / 48, MedianSigned: 6 * time.Hour}}, r.RULByDegradation)
	require.Equal(t, 1, r.Duplicates, "WO-2 while WO-1 is open")

	byAsset := map[string]FailureResult{}
	for _, f := range r.Failures {
		byAsset[f.Asset] = f
	}
	require.True(t, byAsset["A1"].Caught)
	require.Equal(t, "WO-1", byAsset["A1"].FirstOrder)
	require.Equal(t, "WO-6", byAsset["A2"].FirstOrder)
	require.True(t, byAsset["A2"].Detected)
	require.False(t, byAsset["A2"].Caught)
	require.False(t, byAsset["A3"].Detected)
	require.True(t, byAsset["A7"].Pending)

	pass, miss := r.Pass(DefaultTargets())
	require.False(t, pass)
	require.Len(t, miss, 3, "%v", miss) // recall, false alarms, duplicates (median lead 25 h passes)

	md := r.Markdown(DefaultTargets())
	for _, want := range []string{
		"| measure | value | target |",
		"| recall (gradual failures caught ≥ 24.0 h ahead) | 0.33 (1/3) | ≥ 0.90 | ❌ |",
		"| median lead time (gradual, 2 with an order) | 25.0 h | ≥ 24.0 h | ✅ |",
		"| false alarms per 100 healthy asset-months | 21.05 (2 in 9.5 asset-months) | ≤ 2.00 | ❌ |",
		"| remaining-life error at order time (median abs, relative) | 6.0 h, 12% (1 trend orders) | | |",
		"| … exponential wear (1): abs error median / p90, relative median / p90, signed median | 6.0 h / 6.0 h, 12% / 12%, +6.0 h | | |",
		"| duplicate orders | 1 | ≤ 0 | ❌ |",
		"| step faults detected within 24.0 h (median latency) | 1/1 (0.0 h) | | |",
		"| A3 | bearing_wear | linear |",
		"| WO-8 | A5 | threshold |",
		"| orders more than 24.0 h after their failure (not scored) | 1 | | |",
	} {
		require.Contains(t, md, want)
	}
}

func TestEvaluatePerfectRun(t *testing.T) {
	tr := handTruth()
	var orders []Order
	for i, a := range tr.Assets {
		if a.Fails() && a.Gradual {
			o := ord("WO-"+a.Code, a.Code, "trend", a.FailureMode, a.FailureAt.Add(-time.Duration(30+i)*time.Hour))
			o.PredictedFailureAt = *a.FailureAt
			orders = append(orders, o)
		}
	}
	r := Evaluate(tr, orders, Options{})
	pass, miss := r.Pass(DefaultTargets())
	require.True(t, pass, "%v", miss)
	require.Equal(t, 1.0, r.Recall)
	require.Equal(t, 31*time.Hour, r.MedianLead) // 30, 31, 32 h (A1, A2, A3)
	require.Zero(t, r.MedianAbsRULError)
	require.Zero(t, r.Duplicates)
	require.Empty(t, r.FalseAlarms)
}

func TestEvaluateRULErrorPerDegradation(t *testing.T) {
	tr := simulators.Truth{Scenario: "t", Site: "S", Start: t0, End: ptr(day(100))}
	var orders []Order
	// Ten linear failures, each with a trend order 100 h ahead predicting
	// i·10 h too early (i = 1..10), and two exponential ones 50 h ahead,
	// 5 h late and 10 h early.
	for i := 1; i <= 10; i++ {
		code := fmt.Sprintf("L%d", i)
		fail := day(float64(10 + 5*i))
		tr.Assets = append(tr.Assets, failing(code, simulators.Linear, fail.Add(-10*24*time.Hour), fail))
		o := ord("WO-"+code, code, "trend", "bearing_wear", fail.Add(-100*time.Hour))
		o.PredictedFailureAt = fail.Add(-time.Duration(10*i) * time.Hour)
		o.LatestPredictedFailureAt = fail // ignored: not what the order was raised with
		orders = append(orders, o)
	}
	for i, off := range []time.Duration{5 * time.Hour, -10 * time.Hour} {
		code := fmt.Sprintf("E%d", i)
		fail := day(float64(20 + 10*i))
		tr.Assets = append(tr.Assets, failing(code, simulators.Exponential, fail.Add(-5*24*time.Hour), fail))
		o := ord("WO-"+code, code, "trend", "bearing_wear", fail.Add(-50*time.Hour))
		o.PredictedFailureAt = fail.Add(off)
		orders = append(orders, o)
		// A threshold order later on: no remaining-life sample.
		orders = append(orders, ord("WO-T"+code, code, "threshold", "bearing_wear", fail.Add(-time.Hour)))
	}
	r := Evaluate(tr, orders, Options{})
	require.Equal(t, 12, r.RULSamples)
	require.Len(t, r.RULByDegradation, 2)
	exp, lin := r.RULByDegradation[0], r.RULByDegradation[1]
	require.Equal(t, simulators.Exponential, exp.Degradation)
	require.Equal(t, 2, exp.Samples)
	require.Equal(t, 7*time.Hour+30*time.Minute, exp.MedianAbs)
	require.Equal(t, 10*time.Hour, exp.P90Abs)
	require.InDelta(t, 0.15, exp.MedianRel, 1e-12)
	require.InDelta(t, 0.2, exp.P90Rel, 1e-12)
	require.Equal(t, -2*time.Hour-30*time.Minute, exp.MedianSigned)
	require.Equal(t, simulators.Linear, lin.Degradation)
	require.Equal(t, 10, lin.Samples)
	require.Equal(t, 55*time.Hour, lin.MedianAbs)
	require.Equal(t, 90*time.Hour, lin.P90Abs, "nearest rank: 9th of 10")
	require.InDelta(t, 0.55, lin.MedianRel, 1e-12)
	require.InDelta(t, 0.9, lin.P90Rel, 1e-12)
	require.Equal(t, -55*time.Hour, lin.MedianSigned)
	// Overall: 5, 10, 10..100 → median of 12 = (40+50)/2.
	require.Equal(t, 45*time.Hour, r.MedianAbsRULError)
	require.Equal(t, 90*time.Hour, r.P90AbsRULError)
	require.Contains(t, r.Markdown(DefaultTargets()),
		"| … linear wear (10): abs error median / p90, relative median / p90, signed median | 55.0 h / 90.0 h, 55% / 90%, -55.0 h | | |")
}

func TestEvaluateEmptyAndOpenEnded(t *testing.T) {
	tr := handTruth()
	tr.End = nil
	r := Evaluate(tr, nil, Options{End: day(15)})
	require.Equal(t, day(15), r.End)
	require.Zero(t, r.GradualFailures, "no failure happened before day 15")
	require.Equal(t, 5, r.PendingFailures)
	require.True(t, math.IsNaN(r.MedianRelRULError))
	require.True(t, math.IsNaN(r.P90RelRULError))
	require.Empty(t, r.RULByDegradation)
	require.Contains(t, r.Markdown(DefaultTargets()), "no trend orders")
}

func TestClientPagesAndResolvesCodes(t *testing.T) {
	orders := []map[string]any{
		{"id": "o1", "number": "WO-000001", "asset_id": "id-1", "source": "trend", "failure_mode": "bearing_wear",
			"status": "proposed", "created_at": day(1), "detected_at": day(1).Add(-time.Minute),
			"predicted_failure_at": day(9),
			"evidence":             map[string]any{"metric": "vibration_rms", "prediction": map[string]any{"predicted_failure_at": day(8)}}},
		{"id": "o2", "number": "WO-000002", "asset_id": "id-2", "source": "threshold", "failure_mode": "x",
			"status": "cancelled", "created_at": day(2), "updated_at": day(3)},
		{"id": "o3", "number": "WO-000003", "asset_id": "id-other", "source": "threshold", "status": "proposed", "created_at": day(2)},
		{"id": "o4", "number": "WO-000004", "asset_id": "id-2", "source": "trend", "failure_mode": "seal_leak",
			"status": "proposed", "created_at": day(4), "detected_at": day(4), "predicted_failure_at": day(20),
			"evidence": map[string]any{"predicted_failure_at": day(20)}},
		{"id": "o5", "number": "WO-000005", "asset_id": "id-2", "source": "trend", "failure_mode": "overheat",
			"status": "proposed", "created_at": day(5), "detected_at": day(5), "predicted_failure_at": day(25)},
	}
	// The orders' histories (GET /work-orders/{id}): o1 was raised
	// predicting day 7 (its created event's data), then updated to day 8
	// (its evidence now); o4's created event carries no prediction, its
	// first signal (by detected_at, listed last) predicted day 15; o5 has
	// no history with a prediction, so its latest stays.
	details := map[string]map[string]any{
		"o1": {"id": "o1", "events": []map[string]any{
			{"id": 3, "type": "evidence", "at": day(1).Add(time.Hour), "data": map[string]any{"signal": map[string]any{"predicted_failure_at": day(8)}}},
			{"id": 1, "type": "created", "at": day(1), "note": "raised by trend signal",
				"data": map[string]any{"signal": map[string]any{"kind": "trend", "predicted_failure_at": day(7)}}},
			{"id": 4, "type": "approved", "at": day(1).Add(2 * time.Hour)},
		}},
		"o4": {"id": "o4", "events": []map[string]any{{"id": 5, "type": "created", "at": day(4)}},
			"signals": []map[string]any{
				{"id": 9, "kind": "trend", "detected_at": day(4).Add(time.Hour), "prediction": map[string]any{"predicted_failure_at": day(18)}},
				{"id": 8, "kind": "trend", "detected_at": day(4), "prediction": map[string]any{"predicted_failure_at": day(15)}},
			}},
		"o5": {"id": "o5", "events": []map[string]any{{"id": 6, "type": "created", "at": day(5)}}},
	}
	assets := []map[string]any{
		{"id": "id-1", "code": "P-1", "site_id": "s1", "site_code": "S"},
		{"id": "id-2", "code": "P-2", "site_id": "s1", "site_code": "S"},
		{"id": "id-other", "code": "P-1", "site_id": "s2", "site_code": "OTHER"},
	}
	var gets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets++
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"code":"unauthorized","message":"bad token"}}`))
			return
		}
		var items []map[string]any
		switch r.URL.Path {
		case "/api/v1/work-orders":
			items = orders
		case "/api/v1/assets":
			items = assets
		case "/api/v1/work-orders/o1", "/api/v1/work-orders/o4", "/api/v1/work-orders/o5":
			json.NewEncoder(w).Encode(details[strings.TrimPrefix(r.URL.Path, "/api/v1/work-orders/")])
			return
		default:
			http.NotFound(w, r)
			return
		}
		// One item per page, cursor = index of the next item.
		i := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			i = int(c[0] - '0')
		}
		next := ""
		if i+1 < len(items) {
			next = string(rune('0' + i + 1))
		}
		json.NewEncoder(w).Encode(map[string]any{"items": items[i : i+1], "next_cursor": next})
	}))
	defer srv.Close()

	c, err := NewClient(strings.TrimPrefix(srv.URL, "http://"), "tok", nil)
	require.NoError(t, err)
	got, err := c.SiteOrders(t.Context(), "S")
	require.NoError(t, err)
	require.Equal(t, 3+5+3, gets, "3 asset pages, 5 order pages, 3 trend order details")
	require.Len(t, got, 4)
	require.Equal(t, "P-1", got[0].AssetCode)
	require.Equal(t, day(1).Add(-time.Minute), got[0].DetectedAt)
	require.Equal(t, day(7), got[0].PredictedFailureAt, "the prediction the order was raised with")
	require.Equal(t, day(8), got[0].LatestPredictedFailureAt, "the prediction in the evidence beats the field")
	require.Equal(t, day(15), got[2].PredictedFailureAt, "the first signal's prediction")
	require.Equal(t, day(20), got[2].LatestPredictedFailureAt)
	require.Equal(t, day(25), got[3].PredictedFailureAt, "no history with a prediction: the latest")
	require.True(t, got[0].ClosedAt.IsZero())
	require.Equal(t, "P-2", got[1].AssetCode)
	require.Equal(t, day(3), got[1].ClosedAt)

	bad, err := NewClient(srv.URL, "nope", nil)
	require.NoError(t, err)
	_, err = bad.SiteOrders(t.Context(), "S")
	require.ErrorContains(t, err, "401")
	require.ErrorContains(t, err, "bad token")

	_, err = c.SiteOrders(t.Context(), "NOPE")
	require.ErrorContains(t, err, `no assets of site "NOPE"`)
}
