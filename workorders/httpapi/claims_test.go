package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/claims"
	"github.com/openpdm/pdm/workorders/dispatch"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

func withClaims(t *testing.T) func(cfg *httpapi.Config) {
	return func(cfg *httpapi.Config) {
		svc := cfg.Service
		ops := postgres.NewOps(svc.Store.(*postgres.Store).Pool())
		disp, err := workorders.NewDispatchRunner(svc, ops, nil, dispatch.DefaultConfig(), nil, nil)
		require.NoError(t, err)
		cl := &claims.Claims{Store: ops, Ops: ops, Svc: svc, Now: time.Now}
		disp.Withhold = cl.Withhold
		svc.AfterTransition = disp.AfterTransition
		cfg.Ops = httpapi.OpsConfig{Store: ops, Dispatch: disp}
		cfg.Claims, cfg.Policies = cl, ops
	}
}

// TestClaimFirstWins: an order of a site in claim mode is offered to the
// qualified engineers near it (not to the one without the skill, nor the
// one too far) and is never assigned by the optimizer; 20 engineers claim
// it at once: one 200, nineteen 409, and it vanishes from everyone's offers.
func TestClaimFirstWins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withClaims(t))
	ctx := context.Background()
	site, asset, _, _ := e.seed()
	e.mustJSON("PUT", "/api/v1/assets/"+asset.ID, workorders.RolePlanner, map[string]any{"site_id": site.ID, "code": "pump-1",
		"type": "pump", "name": "Pump 1", "criticality": 4, "location": map[string]float64{"lat": 48.1, "lon": 11.5}}, 200, nil)
	var pol claims.Policy
	e.mustJSON("PUT", "/api/v1/dispatch-policies", workorders.RolePlanner, map[string]any{"site_id": site.ID, "mode": "claim", "radius_km": 30}, 200, &pol)
	require.Equal(t, claims.ModeClaim, pol.Mode)
	code, b := e.do("PUT", "/api/v1/dispatch-policies", e.tokens[workorders.RolePlanner], map[string]any{"mode": "grab", "radius_km": -1})
	require.Equal(t, 400, code, string(b))

	type eng struct{ token, userID string }
	var engs []eng
	mk := func(name string, lat float64, skills map[string]int) eng {
		u, tok, err := e.svc.CreateUser(ctx, name, workorders.RoleEngineer)
		require.NoError(t, err)
		e.mustJSON("POST", "/api/v1/engineers", workorders.RolePlanner, map[string]any{"name": name, "user_id": u.ID,
			"skills": skills, "home": map[string]float64{"lat": lat, "lon": 11.5}}, 201, nil)
		return eng{tok, u.ID}
	}
	for i := range 20 {
		engs = append(engs, mk(fmt.Sprintf("near-%02d", i), 48.1+float64(i)*0.005, map[string]int{"vibration": 3}))
	}
	unskilled := mk("unskilled", 48.1, map[string]int{"welding": 5})
	far := mk("far", 50.0, map[string]int{"vibration": 5})

	o, err := e.svc.CreateOrder(ctx, workorders.System("t"), workorders.NewOrder{AssetID: asset.ID, Title: "grab me",
		Priority: workorders.P2, RequiredSkills: []string{"vibration:2"}})
	require.NoError(t, err)
	e.mustJSON("POST", "/api/v1/dispatch/run", workorders.RolePlanner, nil, 200, nil)
	got, err := e.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusApproved, got.Status, "claim mode: the optimizer leaves it to the engineers")

	offers := func(token string) []claims.Offer {
		var l httpapi.List[claims.Offer]
		code, b := e.do("GET", "/api/v1/me/offers", token, nil)
		require.Equal(t, 200, code, string(b))
		require.NoError(t, json.Unmarshal(b, &l))
		return l.Items
	}
	require.Len(t, offers(engs[0].token), 1)
	require.Empty(t, offers(unskilled.token), "not qualified")
	require.Empty(t, offers(far.token), "beyond the radius")
	code, _ = e.do("POST", "/api/v1/work-orders/"+o.ID+"/claim", far.token, nil)
	require.Equal(t, 403, code)

	var wg sync.WaitGroup
	codes := make([]int, len(engs))
	start := make(chan struct{})
	for i, en := range engs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], _ = e.do("POST", "/api/v1/work-orders/"+o.ID+"/claim", en.token, nil)
		}()
	}
	close(start)
	wg.Wait()
	won, lost, winner := 0, 0, ""
	for i, c := range codes {
		switch c {
		case 200:
			won++
			winner = engs[i].userID
		case 409:
			lost++
		default:
			t.Fatalf("claim %d: status %d", i, c)
		}
	}
	require.Equal(t, 1, won)
	require.Equal(t, 19, lost)
	got, err = e.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusAssigned, got.Status)
	require.Equal(t, winner, *got.AssigneeID)
	for _, en := range engs {
		require.Empty(t, offers(en.token), "the claimed order vanished from the offers")
	}
	d, err := e.svc.OrderDetail(ctx, o.ID)
	require.NoError(t, err)
	assigned := 0
	for _, ev := range d.Events {
		if ev.Type == "assigned" {
			assigned++
		}
	}
	require.Equal(t, 1, assigned, "one assignment event")
}
