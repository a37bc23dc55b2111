package rules

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
)

// trendAbove is an observer that predicts a failure on every reading at or
// above limit, and remembers it raised one until re-armed (as the
// predictor does).
type trendAbove struct{ limit float64 }

func (o trendAbove) NewSeries(r *Rule, a AssetRef) SeriesObserver {
	return &trendSeries{limit: o.limit, rule: r, asset: a}
}

type trendSeries struct {
	limit  float64
	rule   *Rule
	asset  AssetRef
	raised bool
}

func (s *trendSeries) Observe(ts time.Time, v float64) []Signal {
	if v < s.limit || s.raised {
		return nil
	}
	s.raised = true
	return []Signal{{Kind: KindTrend, Level: LevelCritical, Site: s.asset.Site, Asset: s.asset.Code, AssetID: s.asset.ID,
		RuleID: s.rule.ID, FailureMode: s.rule.FailureMode, DetectedAt: ts}}
}

func (s *trendSeries) Status() any { return nil }
func (s *trendSeries) Rearm()      { s.raised = false }

// A replica that takes a partition over rebuilds it from the previous
// owner's mark: a prediction the previous owner raised (before the mark)
// stays muted, one from a reading no one evaluated (after the mark, the
// owner died first) is raised at once with that reading's time, not at the
// next live reading.
func TestRebuildRaisesUnseenPredictionsWithTheirTime(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trendAt int // minute the prediction first holds
		mark    int // the previous owner's mark, in minutes
		wantAt  int // detection time wanted (minutes), -1 for none during the rebuild
	}{
		{name: "seen by the previous owner", trendAt: 10, mark: 30, wantAt: -1},
		{name: "never evaluated", trendAt: 40, mark: 30, wantAt: 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := &sink{}
			fa := &fakeAssets{m: map[string]AssetRef{"s1/p1": {ID: "a1", Type: "pump"}}}
			r := pumpRule()
			r.Critical = f(100) // the threshold raises nothing here
			r.Warn = f(90)
			e, err := NewEngine(Config{Assets: fa, Rules: &fakeRules{rules: []Rule{r}}, Signal: sk.send,
				Observers: []Observer{trendAbove{limit: 5}}, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
			require.NoError(t, err)
			h := &fakeHistory{data: map[string][]ingest.Reading{}}
			for m := 0; m < 60; m++ {
				v := 1.0
				if m >= tc.trendAt {
					v = 6
				}
				h.data["s1/p1"] = append(h.data["s1/p1"], reading("s1", "p1", t0.Add(time.Duration(m)*time.Minute), "vibration_rms", v))
			}
			ctx := context.Background()
			n, err := e.RebuildWhere(ctx, h, h, t0.Add(time.Duration(tc.mark)*time.Minute), t0.Add(time.Hour), nil)
			require.NoError(t, err)
			require.Equal(t, 60, n)
			runEngine(t, e)
			if tc.wantAt < 0 {
				// Re-armed: the next live reading raises it again.
				e.Consume(ctx, []ingest.Reading{reading("s1", "p1", t0.Add(61*time.Minute), "vibration_rms", 6.0)})
				waitFor(t, "the re-armed prediction", func() bool { return len(sk.got()) == 1 })
				require.Equal(t, t0.Add(61*time.Minute), sk.got()[0].DetectedAt)
				return
			}
			waitFor(t, "the unseen prediction", func() bool { return len(sk.got()) == 1 })
			require.Equal(t, KindTrend, sk.got()[0].Kind)
			require.Equal(t, t0.Add(time.Duration(tc.wantAt)*time.Minute), sk.got()[0].DetectedAt)
		})
	}
}

// A prediction raised before a breach is delivered before it, also when it
// was raised again after the breach (a rebuild raises both in one burst):
// the order the receiver opens comes from the prediction, with its lead.
func TestOutboxDeliversInOrderOfFirstRaise(t *testing.T) {
	sk := &sink{}
	o := NewOutbox(sk.send, nil, time.Millisecond, time.Millisecond, time.Second)
	trend := Signal{Kind: KindTrend, Level: LevelCritical, AssetID: "a1", RuleID: "r1", FailureMode: "wear", DetectedAt: t0}
	breach := Signal{Kind: KindThreshold, Level: LevelCritical, AssetID: "a1", RuleID: "r1", FailureMode: "wear", DetectedAt: t0.Add(time.Hour)}
	again := trend
	again.DetectedAt, again.Value = t0.Add(2*time.Hour), 2
	o.Put(trend)
	o.Put(breach)
	o.Put(again)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = o.Run(ctx) }()
	waitFor(t, "delivery", func() bool { return len(sk.got()) == 2 })
	got := sk.got()
	require.Equal(t, KindTrend, got[0].Kind)
	require.Equal(t, t0, got[0].DetectedAt, "the earliest detection")
	require.Equal(t, 2.0, got[0].Value, "the newest evidence")
	require.Equal(t, KindThreshold, got[1].Kind)
}
