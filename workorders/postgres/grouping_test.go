package postgres_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/workorders"
)

// TestRigGroupingThroughPostgres sends the rig scenario (six rigs of four
// pumps, one bearing per rig wearing out and shaking its three
// neighbours; two healthy rigs) through the predictor and the real
// auto-order path: one order per failing bearing, none for the
// neighbours, whose signals are linked to their bearing's order.
func TestRigGroupingThroughPostgres(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	yml, err := simulators.BuiltinScenario("rig")
	require.NoError(t, err)
	yml = []byte(strings.Replace(string(yml), "interval: 10m", "interval: 1h", 1))
	s, err := simulators.ParseScenario(yml, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	end, ok := s.End()
	require.True(t, ok)

	parents := map[string]string{}
	var sigs []rules.Signal
	for _, m := range s.Assets {
		rig, _, _ := strings.Cut(m.Code(), "-")
		if parents[rig] == "" {
			p, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "rig-" + rig, Type: "rig", Name: "Rig " + rig, Criticality: 3})
			require.NoError(t, err)
			parents[rig] = p.ID
		}
		parent := parents[rig]
		_, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: m.Code(), Type: "pump", Name: m.Code(), Criticality: 3, ParentID: &parent})
		require.NoError(t, err)
		stop := end
		if p := m.Profile(); p.Degradation == simulators.Linear || p.Degradation == simulators.Exponential {
			stop = p.FailAt.Add(24 * time.Hour)
		}
		var rds []ingest.Reading
		for ts := s.Start; ts.Before(stop); ts = ts.Add(s.Interval) {
			if rd, ok := m.Reading(s.Site, ts); ok {
				rds = append(rds, rd)
			}
		}
		r := s.Rules[0]
		r.ID = f.rule.ID
		for _, sig := range rules.Replay(&r, rules.AssetRef{Site: "plant1", Code: m.Code(), Type: "pump"}, rds, []rules.Observer{predict.New(predict.Options{})}) {
			if rules.RaisesOrder(sig) {
				sig.Site, sig.Asset, sig.RuleID = "plant1", m.Code(), f.rule.ID
				sigs = append(sigs, sig)
			}
		}
	}
	sort.SliceStable(sigs, func(i, j int) bool { return sigs[i].DetectedAt.Before(sigs[j].DetectedAt) })
	for _, sig := range sigs {
		require.NoError(t, f.svc.HandleSignal(ctx, sig))
	}

	orders, _, err := f.svc.ListOrders(ctx, workorders.OrderFilter{Page: workorders.Page{Limit: 100}})
	require.NoError(t, err)
	var codes []string
	linked := 0
	for _, o := range orders {
		a, err := f.svc.GetAsset(ctx, o.AssetID)
		require.NoError(t, err)
		codes = append(codes, a.Code)
		evs, err := f.svc.ListEvents(ctx, o.ID)
		require.NoError(t, err)
		for _, e := range evs {
			if e.Type == workorders.EventLinked {
				var d struct {
					Asset string `json:"asset"`
				}
				require.NoError(t, json.Unmarshal(e.Data, &d))
				rig, _, _ := strings.Cut(a.Code, "-")
				require.True(t, strings.HasPrefix(d.Asset, rig+"-N"), "%s linked to %s", d.Asset, a.Code)
				linked++
			}
		}
	}
	sort.Strings(codes)
	require.Equal(t, []string{"RA-B1", "RB-B1", "RC-B1", "RD-B1", "RE-B1", "RF-B1"}, codes)
	require.Positive(t, linked)
	t.Logf("%d signals, %d linked to a failing bearing's order", len(sigs), linked)
}

// TestIndependentNeighbourFailuresKeepTwoOrders: two pumps on one parent
// both really failing (similar rates) get two orders; a third rising by a
// fraction of the first's rate is linked; an asset on another parent is
// never linked; a threshold breach of a linked asset raises its own order.
func TestIndependentNeighbourFailuresKeepTwoOrders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	rig, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "rig", Type: "rig", Name: "Rig", Criticality: 3})
	require.NoError(t, err)
	other, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "rig2", Type: "rig", Name: "Rig 2", Criticality: 3})
	require.NoError(t, err)
	mk := func(code, parent string) {
		_, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: code, Type: "pump", Name: code, Criticality: 3, ParentID: &parent})
		require.NoError(t, err)
	}
	mk("p1", rig.ID)
	mk("p2", rig.ID)
	mk("p3", rig.ID)
	mk("q1", other.ID)
	at := time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC)
	trend := f.trendSignal
	_, o1, err := f.svc.HandleSignalOrder(ctx, trend("p1", at, 1e-5, 40*time.Hour))
	require.NoError(t, err)
	require.NotNil(t, o1)
	// p2 fails on its own: nearly as fast, later.
	_, o2, err := f.svc.HandleSignalOrder(ctx, trend("p2", at.Add(6*time.Hour), 0.9e-5, 60*time.Hour))
	require.NoError(t, err)
	require.NotNil(t, o2, "an independent failure keeps its own order")
	require.NotEqual(t, o1.ID, o2.ID)
	// p3 is shaken: a third of p1's rate.
	rec, o3, err := f.svc.HandleSignalOrder(ctx, trend("p3", at.Add(8*time.Hour), 0.3e-5, 150*time.Hour))
	require.NoError(t, err)
	require.Nil(t, o3, "a shaken neighbour is linked")
	require.Nil(t, rec.OrderID)
	// q1 on another rig rising as slowly: its own order.
	_, o4, err := f.svc.HandleSignalOrder(ctx, trend("q1", at.Add(8*time.Hour), 0.3e-5, 150*time.Hour))
	require.NoError(t, err)
	require.NotNil(t, o4)

	d, err := f.svc.OrderDetail(ctx, o1.ID)
	require.NoError(t, err)
	var links []workorders.Event
	for _, e := range d.Events {
		if e.Type == workorders.EventLinked {
			links = append(links, e)
		}
	}
	require.Len(t, links, 1)
	require.Contains(t, links[0].Note, "plant1/p3")
	require.NotNil(t, rec.AssetID)
	require.Contains(t, string(links[0].Data), *rec.AssetID)

	// A planner splits p3 out: its own proposed order with the linked
	// evidence, the split recorded on p1's order; p3's next trend signal
	// goes to its own order. An asset not linked cannot be split.
	_, err = f.svc.SplitOrder(ctx, f.admin, o1.ID, o4.AssetID)
	require.ErrorAs(t, err, new(*workorders.ValidationError))
	split, err := f.svc.SplitOrder(ctx, f.admin, o1.ID, *rec.AssetID)
	require.NoError(t, err)
	require.Equal(t, *rec.AssetID, split.AssetID)
	require.Equal(t, workorders.StatusProposed, split.Status)
	require.Equal(t, "bearing_wear", split.FailureMode)
	d, err = f.svc.OrderDetail(ctx, o1.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.EventSplit, d.Events[len(d.Events)-1].Type)
	_, err = f.svc.SplitOrder(ctx, f.admin, o1.ID, *rec.AssetID)
	require.ErrorIs(t, err, workorders.ErrConflict, "p3 has its own open order now")
	_, o6, err := f.svc.HandleSignalOrder(ctx, trend("p3", at.Add(9*time.Hour), 0.3e-5, 140*time.Hour))
	require.NoError(t, err)
	require.NotNil(t, o6)
	require.Equal(t, split.ID, o6.ID)

	// p3 breaching its limit is evidence on its own order.
	br := f.signal(rules.KindThreshold, at.Add(9*time.Hour))
	br.Asset = "p3"
	_, o5, err := f.svc.HandleSignalOrder(ctx, br)
	require.NoError(t, err)
	require.NotNil(t, o5)
	require.Equal(t, split.ID, o5.ID)
}

// TestAreaNeighboursAreGrouped: assets without a parent in one site area
// (a rig's four bearings registered flat, area "rig 1") are neighbours:
// one shaken by the failing bearing is linked to its order; an asset of
// another area, or of no area, rising the same way gets its own order.
// The area is stored, trimmed, filtered on, and over 100 characters named.
func TestAreaNeighboursAreGrouped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	mk := func(code, area string) workorders.Asset {
		a, err := f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: code, Type: "bearing", Name: code, Criticality: 3, Area: area})
		require.NoError(t, err)
		return a
	}
	b1 := mk("b1", "rig 1")
	mk("b2", "rig 1")
	mk("c1", "rig 2")
	mk("d1", "")
	require.Equal(t, "rig 1", b1.Area)
	inArea, _, err := f.svc.ListAssets(ctx, workorders.AssetFilter{Area: "rig 1"})
	require.NoError(t, err)
	require.Len(t, inArea, 2)
	_, err = f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "long", Type: "bearing", Name: "long", Criticality: 3, Area: strings.Repeat("x", 101)})
	var ve *workorders.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.Error(), "area")

	at := time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC)
	trend := f.trendSignal
	_, lead, err := f.svc.HandleSignalOrder(ctx, trend("b1", at, 1e-5, 40*time.Hour))
	require.NoError(t, err)
	require.NotNil(t, lead)
	_, o, err := f.svc.HandleSignalOrder(ctx, trend("b2", at.Add(4*time.Hour), 0.3e-5, 150*time.Hour))
	require.NoError(t, err)
	require.Nil(t, o, "a neighbour in the same area is linked")
	for _, code := range []string{"c1", "d1"} {
		_, o, err := f.svc.HandleSignalOrder(ctx, trend(code, at.Add(4*time.Hour), 0.3e-5, 150*time.Hour))
		require.NoError(t, err)
		require.NotNil(t, o, "%s is not in the failing bearing's area", code)
	}
	d, err := f.svc.OrderDetail(ctx, lead.ID)
	require.NoError(t, err)
	var links int
	for _, e := range d.Events {
		if e.Type == workorders.EventLinked {
			require.Contains(t, e.Note, "plant1/b2")
			links++
		}
	}
	require.Equal(t, 1, links)
}

// trendSignal is a critical trend signal of asset code detected at at,
// rising by slope a second, predicted to cross cross later (±1 h).
func (f *fixture) trendSignal(code string, at time.Time, slope float64, cross time.Duration) rules.Signal {
	sig := f.signal(rules.KindTrend, at)
	sig.Asset = code
	sig.Prediction = &rules.Prediction{Model: "linear", Slope: slope, R2: 0.9, Points: 40,
		WindowStart: at.Add(-48 * time.Hour), WindowEnd: at,
		CrossingAt: at.Add(cross), CrossingEarliest: at.Add(cross - time.Hour), CrossingLatest: at.Add(cross + time.Hour)}
	return sig
}
