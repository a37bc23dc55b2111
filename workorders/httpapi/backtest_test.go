package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
)

// assetBacktester raises one critical threshold signal per asset id.
type assetBacktester struct{ ids []string }

func (b assetBacktester) Backtest(_ context.Context, r rules.Rule, from, _ time.Time) ([]rules.Signal, error) {
	var out []rules.Signal
	for i, id := range b.ids {
		out = append(out, rules.Signal{Kind: rules.KindThreshold, Level: rules.LevelCritical, RuleID: r.ID, Site: "plant1",
			Asset: id, AssetID: id, Metric: r.Metric, DetectedAt: from.Add(time.Duration(i) * time.Hour)})
	}
	return out, nil
}

// A backtest prices each order with its own asset's criticality, as the
// live ticket core does: a critical breach is P2, raised to P1 on an asset
// of criticality 4, lowered to P3 on one of criticality 1.
func TestBacktestUsesEachAssetsCriticality(t *testing.T) {
	t.Parallel()
	bt := &assetBacktester{}
	e := newEnv(t, func(c *httpapi.Config) { c.Backtester = bt })
	site, high, _, _ := e.seed() // criticality 4
	var low workorders.Asset
	e.mustJSON("POST", "/api/v1/assets", workorders.RolePlanner, map[string]any{"site_id": site.ID, "code": "pump-2",
		"type": "pump", "name": "Pump 2", "criticality": 1}, 201, &low)
	bt.ids = []string{high.ID, low.ID}
	var res httpapi.BacktestResult
	e.mustJSON("POST", "/api/v1/rules/backtest", workorders.RolePlanner, json.RawMessage(`{"rule":{"name":"d","asset_type":"pump",
		"metric":"vibration_rms","direction":"above","critical":7,"priority":"P3"},"from":"2026-01-01T00:00:00Z","to":"2026-01-08T00:00:00Z"}`), 200, &res)
	require.Len(t, res.Orders, 2)
	got := map[string]workorders.Priority{}
	for _, o := range res.Orders {
		got[o.AssetID] = o.Priority
	}
	require.Equal(t, workorders.P1, got[high.ID], "criticality 4")
	require.Equal(t, workorders.P3, got[low.ID], "criticality 1")
}
