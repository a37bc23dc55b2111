package eval

import (
	"encoding/json"
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
	require.InDelta(t, 6.0/48, r.MedianRelRULError, 1e-12)
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

func TestEvaluateEmptyAndOpenEnded(t *testing.T) {
	tr := handTruth()
	tr.End = nil
	r := Evaluate(tr, nil, Options{End: day(15)})
	require.Equal(t, day(15), r.End)
	require.Zero(t, r.GradualFailures, "no failure happened before day 15")
	require.Equal(t, 5, r.PendingFailures)
	require.True(t, math.IsNaN(r.MedianRelRULError))
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
	require.Equal(t, 6, gets)
	require.Len(t, got, 2)
	require.Equal(t, "P-1", got[0].AssetCode)
	require.Equal(t, day(1).Add(-time.Minute), got[0].DetectedAt)
	require.Equal(t, day(8), got[0].PredictedFailureAt, "the prediction in the evidence wins")
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
