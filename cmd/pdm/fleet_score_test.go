package main

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/postgres"
)

// countingSeries counts the InfluxDB queries of fleetSeries.
type countingSeries struct {
	fleetSeries
	mu          sync.Mutex
	one, batchs int
}

func (c *countingSeries) Series(ctx context.Context, site, asset string, metrics []string, from, to time.Time, step time.Duration) (map[string][]fleet.Sample, error) {
	c.mu.Lock()
	c.one++
	c.mu.Unlock()
	return c.fleetSeries.Series(ctx, site, asset, metrics, from, to, step)
}

func (c *countingSeries) SeriesBatch(ctx context.Context, assets []fleet.SeriesKey, metrics []string, from, to time.Time, step time.Duration) (map[fleet.SeriesKey]map[string][]fleet.Sample, error) {
	c.mu.Lock()
	c.batchs++
	c.mu.Unlock()
	return c.fleetSeries.SeriesBatch(ctx, assets, metrics, from, to, step)
}

// TestFleetScoreBatchMatchesOneByOne: the same engines scored with one
// InfluxDB query an asset and with a query per batch of assets get the
// very same stored scores and alerts: engines running in two sites (one
// whose readings came through two gateways, one repaired within the
// span), failed ones (no data since), one silent for two months. Then
// with InfluxDB not answering a run fails, stores no score and raises no
// order; once it answers, a run raises each due engine's order once and
// the next adds to them.
func TestFleetScoreBatchMatchesOneByOne(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, env.PGURL)
	require.NoError(t, err)
	defer pool.Close()
	require.NoError(t, postgres.Migrate(ctx, pool))
	st := postgres.New(pool)
	svc := workorders.NewService(st, nil, nil)
	ts, err := influx.New(influx.Config{URL: env.InfluxURL, Bucket: env.Bucket})
	require.NoError(t, err)
	defer ts.Close()
	sites := map[string]workorders.Site{}
	for _, code := range []string{"FSA", "FSB"} {
		s, err := svc.CreateSite(ctx, workorders.Site{Code: code, Name: code})
		require.NoError(t, err)
		sites[code] = s
	}
	failed := simulators.RunToFailure(5, simulators.RunToFailureOptions{Units: 12})
	running := simulators.RunToFailure(5, simulators.RunToFailureOptions{Units: 14, FirstUnit: 12, Cut: true})
	now := time.Now().UTC()
	failedAt := now.Truncate(time.Hour).Add(-48*time.Hour + 30*time.Minute)
	var ids []string
	write := func(site string, u simulators.RunToFailureUnit, last time.Time, gateways ...string) string {
		a, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: sites[site].ID, Code: u.ID, Type: "engine", Name: u.ID, Criticality: 3})
		require.NoError(t, err)
		rds := make([]ingest.Reading, len(u.Cycles))
		for i, row := range u.Cycles {
			rd := ingest.Reading{Site: site, Asset: u.ID, TS: last.Add(-time.Duration(len(u.Cycles)-1-i) * time.Hour)}
			if len(gateways) > 0 {
				rd.Gateway = gateways[i%len(gateways)]
			}
			for k, v := range row {
				rd.Metrics = append(rd.Metrics, ingest.Metric{Name: failed.Sensors[k], Value: v})
			}
			rds[i] = rd
		}
		require.NoError(t, ts.Write(ctx, rds))
		ids = append(ids, a.ID)
		return a.ID
	}
	for _, u := range failed.Units {
		id := write("FSA", u, failedAt)
		_, _, err := st.AddFailure(ctx, id, failedAt)
		require.NoError(t, err)
	}
	for i, u := range running.Units {
		site := []string{"FSA", "FSB"}[i%2]
		switch i {
		case 0: // readings from two gateways: two series
			write(site, u, now.Add(-time.Minute), "gw1", "gw2")
		case 1: // repaired 100 hours ago: its life starts within the span
			id := write(site, u, now.Add(-time.Minute))
			_, _, err := st.AddFailure(ctx, id, now.Add(-100*time.Hour))
			require.NoError(t, err)
		case 2: // silent for two months
			write(site, u, now.Add(-60*24*time.Hour))
		default:
			write(site, u, now.Add(-time.Minute))
		}
	}
	c := &core{store: st, svc: svc}
	_, _, err = c.fleetTrainer(ts).Train(ctx, "engine", fleet.Settings{})
	require.NoError(t, err)
	// 12 failures are too few for the validation gate: let it raise.
	require.NoError(t, st.SetGateOverride(ctx, "engine", &fleet.GateOverride{By: "test", At: now, Note: "scoring test"}))

	type result struct {
		scores map[string]fleet.Score
		alerts map[string]fleet.Alert
		series *countingSeries
	}
	score := func(batch int) result {
		r := result{scores: map[string]fleet.Score{}, alerts: map[string]fleet.Alert{}, series: &countingSeries{fleetSeries: fleetSeries{ts}}}
		var mu sync.Mutex
		sc := c.fleetScorer(ts, slog.New(slog.DiscardHandler))
		sc.Series, sc.Batch, sc.Now = r.series, batch, func() time.Time { return now }
		sc.Raise = func(_ context.Context, a fleet.Alert) error {
			mu.Lock()
			defer mu.Unlock()
			r.alerts[a.Asset.ID] = a
			return nil
		}
		require.NoError(t, sc.Run(ctx))
		for _, id := range ids {
			s, err := st.Score(ctx, id)
			require.NoError(t, err)
			r.scores[id] = s
		}
		return r
	}
	one := score(1)
	statuses := map[string]int{}
	for _, s := range one.scores {
		statuses[s.Status]++
	}
	t.Logf("one by one: %v, %d alerts, %d queries", statuses, len(one.alerts), one.series.one)
	require.Equal(t, 14, statuses[fleet.StatusOK], "running engines")
	require.Equal(t, 12, statuses[fleet.StatusNoData], "failed engines")
	require.NotEmpty(t, one.alerts)
	require.Zero(t, one.series.batchs)
	for _, batch := range []int{5, 10} {
		got := score(batch)
		require.Equal(t, one.scores, got.scores, "batch %d", batch)
		require.Equal(t, one.alerts, got.alerts, "batch %d", batch)
		// One query a batch, and for the silent engine its own two
		// (the last month with data, then its history there).
		require.Equal(t, (len(ids)+batch-1)/batch, got.series.batchs, "batch %d", batch)
		require.Equal(t, 2, got.series.one, "batch %d", batch)
		t.Logf("batch %d: %d batch queries, %d others", batch, got.series.batchs, got.series.one)
	}

	// InfluxDB not answering: the run fails, no score is stored, no
	// order raised.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadURL := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	dead, err := influx.New(influx.Config{URL: deadURL, Bucket: env.Bucket, Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer dead.Close()
	later := now.Add(time.Hour)
	fleetOrders := func() map[string]int {
		os, _, err := st.ListOrders(ctx, workorders.OrderFilter{Page: workorders.Page{Limit: 500}})
		require.NoError(t, err)
		out := map[string]int{}
		for _, o := range os {
			out[o.AssetID]++
		}
		return out
	}
	sc := c.fleetScorer(dead, slog.New(slog.DiscardHandler))
	sc.Now = func() time.Time { return later }
	n, err := sc.RunCount(ctx)
	require.Error(t, err)
	require.Zero(t, n)
	for _, id := range ids {
		s, err := st.Score(ctx, id)
		require.NoError(t, err)
		require.Equal(t, one.scores[id], s, "a failed run leaves the score as it was")
	}
	require.Empty(t, fleetOrders())

	// Answering again: each due engine gets one order, the next run adds
	// to it.
	sc = c.fleetScorer(ts, slog.New(slog.DiscardHandler))
	sc.Now = func() time.Time { return later }
	n, err = sc.RunCount(ctx)
	require.NoError(t, err)
	require.Positive(t, n)
	orders := fleetOrders()
	require.Len(t, orders, n)
	for id, k := range orders {
		require.Equal(t, 1, k, id)
	}
	n2, err := sc.RunCount(ctx)
	require.NoError(t, err)
	require.Equal(t, n, n2)
	require.Equal(t, orders, fleetOrders())
}
