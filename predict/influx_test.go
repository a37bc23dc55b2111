package predict

import (
	"context"
	"testing"
	"time"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	"github.com/openpdm/pdm/rules"
	"github.com/stretchr/testify/require"
)

// influxDB returns a client on a fresh database of the real InfluxDB
// (PDM_INFLUX_URL), dropped after the test. A missing server fails the
// test naming InfluxDB.
func influxDB(t *testing.T) *influx.Client {
	t.Helper()
	base := servicetest.InfluxURL(t)
	db := servicetest.InfluxDatabase(t, base)
	c, err := influx.New(influx.Config{URL: base, Bucket: db})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// lister adapts the InfluxDB client's asset listing (as cmd does).
func lister(c *influx.Client) rules.AssetLister {
	return rules.AssetListerFunc(func(ctx context.Context, from, to time.Time) ([]rules.AssetCode, error) {
		as, err := c.Assets(ctx, nil, from, to)
		if err != nil {
			return nil, err
		}
		out := make([]rules.AssetCode, len(as))
		for i, a := range as {
			out[i] = rules.AssetCode{Site: a.Site, Asset: a.Asset}
		}
		return out, nil
	})
}

func writeAll(t *testing.T, c *influx.Client, rd []ingest.Reading) {
	t.Helper()
	for i := 0; i < len(rd); i += 1000 {
		require.NoError(t, c.Write(context.Background(), rd[i:min(i+1000, len(rd))]))
	}
}

func split(rd []ingest.Reading, cut time.Time) (before, after []ingest.Reading) {
	for _, r := range rd {
		if r.TS.Before(cut) {
			before = append(before, r)
		} else {
			after = append(after, r)
		}
	}
	return before, after
}

func firstTrend(sigs []rules.Signal) *rules.Signal {
	for i := range sigs {
		if sigs[i].Kind == rules.KindTrend {
			return &sigs[i]
		}
	}
	return nil
}

// A restarted engine rebuilds its prediction windows from InfluxDB and
// predicts at once, instead of waiting for a window of fresh readings.
func TestInfluxWarmStartResumesPrediction(t *testing.T) {
	t.Parallel()
	c := influxDB(t)
	ctx := context.Background()
	rd := loadSeries(t, scenarios()[0]) // linear wear
	cut := failAt.Add(-5 * 24 * time.Hour)
	before, after := split(rd, cut)
	writeAll(t, c, before)

	newEngine := func(col *collector) *rules.Engine {
		e, err := rules.NewEngine(rules.Config{Assets: pumpDir(), Rules: ruleList{vibRule()}, Signal: col.send,
			Observers: []rules.Observer{New(Options{})}})
		require.NoError(t, err)
		return e
	}
	warm, cold := &collector{}, &collector{}
	ew, ec := newEngine(warm), newEngine(cold)
	n, err := ew.WarmStart(ctx, c, lister(c), cut)
	require.NoError(t, err)
	require.Equal(t, 108*4, n, "one and a half 72h windows of 15-minute readings replayed (the window and the confirmation's refits)")
	drain(t, ew)
	require.Empty(t, warm.all(), "warm start raises nothing by itself")
	for _, r := range after[:4*24] {
		ew.Consume(ctx, []ingest.Reading{r})
		ec.Consume(ctx, []ingest.Reading{r})
	}
	drain(t, ew)
	drain(t, ec)
	s := firstTrend(warm.all())
	require.NotNil(t, s, "warm engine predicts within a day")
	// The replayed window's fits count towards the confirmation span
	// (a quarter of the window): a warm engine raises it at most that
	// much after the restart, a cold one needs a whole window first.
	require.LessOrEqual(t, s.DetectedAt.Sub(cut), 72*time.Hour/4+3*time.Hour, "predicts within the confirmation span")
	require.Nil(t, firstTrend(cold.all()), "a cold engine has no window yet")
}

// Backtest over real history: a draft rule on a degrading asset and a
// step fault, changing nothing.
func TestInfluxBacktest(t *testing.T) {
	t.Parallel()
	c := influxDB(t)
	ctx := context.Background()
	exp := loadSeries(t, scenarios()[1])
	step := loadSeries(t, scenarios()[2])
	for i := range step {
		step[i].Asset = "p2"
	}
	writeAll(t, c, exp)
	writeAll(t, c, step)
	b := &rules.Backtester{History: c, Observers: []rules.Observer{New(Options{})}}
	a1 := rules.AssetRef{Site: "s1", Code: "p1", ID: "a1", Type: "pump"}
	a2 := rules.AssetRef{Site: "s1", Code: "p2", ID: "a2", Type: "pump"}
	draft := vibRule()
	draft.ID, draft.Enabled = "", false
	res, err := b.Backtest(ctx, draft, []rules.AssetRef{a1, a2}, seriesStart, seriesStart.Add(60*24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, len(exp)+len(step), res.Readings)
	require.Len(t, res.Orders, 2)
	byAsset := map[string]rules.WouldOrder{}
	for _, o := range res.Orders {
		byAsset[o.AssetID] = o
	}
	require.Equal(t, rules.KindTrend, byAsset["a1"].Source)
	require.Less(t, byAsset["a1"].DetectedAt, failAt.Add(-24*time.Hour))
	require.NotNil(t, byAsset["a1"].Prediction)
	require.Positive(t, byAsset["a1"].Updates, "later predictions update the one order")
	require.Equal(t, rules.KindThreshold, byAsset["a2"].Source)
	require.False(t, byAsset["a2"].DetectedAt.Before(failAt))

	// A period before any degradation raises nothing.
	res, err = b.Backtest(ctx, draft, []rules.AssetRef{a1}, seriesStart, seriesStart.Add(20*24*time.Hour))
	require.NoError(t, err)
	require.Empty(t, res.Orders)
	require.Positive(t, res.Readings)

	// Nothing changed: the history reads the same.
	got, err := c.ReadReadings(ctx, "s1", "p1", nil, seriesStart, seriesStart.Add(60*24*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, len(exp))
}

// The re-prediction job over real history catches a stalled stream.
func TestInfluxJobRepredicts(t *testing.T) {
	t.Parallel()
	c := influxDB(t)
	ctx := context.Background()
	rd := loadSeries(t, scenarios()[1])
	cut := failAt.Add(-3 * 24 * time.Hour)
	before, _ := split(rd, cut)
	writeAll(t, c, before)
	col := &collector{}
	e, err := rules.NewEngine(rules.Config{Assets: pumpDir(), Rules: ruleList{vibRule()}, Signal: col.send,
		Observers: []rules.Observer{New(Options{})}})
	require.NoError(t, err)
	j := &Job{Engine: e, History: c, Assets: lister(c), Now: func() time.Time { return cut }, ListBack: 3 * 24 * time.Hour}
	st, err := j.RunStats(ctx)
	require.NoError(t, err)
	require.Equal(t, JobStats{Assets: 1, Series: 1, Signals: 1}, st)
	drain(t, e)
	s := firstTrend(col.all())
	require.NotNil(t, s)
	require.WithinDuration(t, failAt, s.Prediction.CrossingAt, 48*time.Hour)
	require.Equal(t, before[len(before)-1].TS, s.DetectedAt)
}
