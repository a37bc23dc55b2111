package notify_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/postgres/pgtest"
	"github.com/openpdm/pdm/workorders/requests"
)

// The event and what it must tell commit together: with no hook bound at
// all (as if the process died right after the commit), the relay still
// tells each event exactly once, however many relays run.
func TestRelayTellsCommittedEventsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, pool := pgtest.MigratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "S1", Name: "Plant 1"})
	require.NoError(t, err)
	_, err = svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "P-1", Type: "pump", Name: "Feed pump", Criticality: 3})
	require.NoError(t, err)
	box, addr := startSMTP(t)
	n := notify.New(store, map[string]notify.Sender{notify.ChanEmail: &notify.SMTP{Addr: addr, From: "pdm@example.com"}}, nil, nil)
	n.PublicURL = "https://pdm.example.com"
	n.Pending = store
	reqs := requests.New(store, svc, nil, nil) // no OnCreated, no AfterTransition

	pending := func() int {
		var c int
		require.NoError(t, pool.QueryRow(ctx, `select count(*) from notify_pending`).Scan(&c))
		return c
	}
	var ids []string
	for i := range 5 {
		c, err := reqs.Create(ctx, workorders.System("t"), requests.Input{Channel: requests.ChannelForm, SiteCode: "S1",
			AssetCode: "P-1", Description: fmt.Sprintf("leak %d", i), Requester: requests.Requester{Email: fmt.Sprintf("c%d@example.com", i)}})
		require.NoError(t, err)
		ids = append(ids, c.Order.ID)
	}
	require.Equal(t, 5, pending(), "each request's created event is recorded with it")

	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := n.Relay(ctx)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Zero(t, pending())
	out, err := store.Outbox(ctx, "", 100)
	require.NoError(t, err)
	require.Len(t, out, 5, "one request-received email each, none twice")
	for _, m := range out {
		require.Equal(t, notify.KindRequestReceived, m.Kind)
	}

	// A transition that tells nobody records nothing; one that does is told.
	_, err = svc.Act(ctx, ids[0], workorders.ActionRequest{Action: workorders.ActApprove, Actor: workorders.System("t")})
	require.NoError(t, err)
	require.Zero(t, pending())
	eng, _, err := svc.CreateUser(ctx, "Wang Wei", workorders.RoleEngineer)
	require.NoError(t, err)
	_, err = svc.Act(ctx, ids[0], workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: eng.ID, Actor: workorders.System("t")})
	require.NoError(t, err)
	require.Equal(t, 1, pending())
	told, err := n.Relay(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, told)
	told, err = n.Relay(ctx)
	require.NoError(t, err)
	require.Zero(t, told)

	_, err = n.SendDue(ctx)
	require.NoError(t, err)
	require.Len(t, box.all(), 6)
}
