package httpapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// dyingIdem is a key store whose process dies after the change commits
// and before the answer is stored: Finish never happens.
type dyingIdem struct{ *postgres.Idempotency }

func (dyingIdem) Finish(context.Context, string, string, int, string, []byte) error { return nil }

// TestIdempotencyKeyCommitsWithTheChange: the key is marked applied in the
// transaction of the change. A crash between the change and storing the
// answer: the retry (on a restarted server) is never applied again, at
// first told to wait, then answered with the order as it stands. A crash
// before the change: the abandoned key is taken over and the retry
// applies once. A request whose key was taken over cannot apply.
func TestIdempotencyKeyCommitsWithTheChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withIdempotency)
	ctx := context.Background()
	_, _, _, o := e.seed()
	pool := e.svc.Store.(*postgres.Store).Pool()
	store := postgres.NewIdempotency(pool)
	dying, err := httpapi.New(httpapi.Config{Service: e.svc, Idempotency: dyingIdem{store}})
	require.NoError(t, err)
	restarted, err := httpapi.New(httpapi.Config{Service: workorders.NewService(e.svc.Store, nil, nil), Idempotency: store})
	require.NoError(t, err)
	backdate := func(key string, d time.Duration) {
		_, err := pool.Exec(ctx, `update idempotency_keys set created_at = now() - make_interval(secs => $2) where key = $1`, key, d.Seconds())
		require.NoError(t, err)
	}

	first := e.keyed(dying, "POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, "crash-after", map[string]any{"note": "ok"})
	require.Equal(t, 200, first.Code, first.Body.String())
	events := e.eventCount(o.ID)
	again := e.keyed(restarted, "POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, "crash-after", map[string]any{"note": "ok"})
	require.Equal(t, 409, again.Code, "the answer may still be on its way: %s", again.Body)
	require.Contains(t, again.Body.String(), "idempotency_key_in_use")
	backdate("crash-after", 3*time.Minute)
	again = e.keyed(restarted, "POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, "crash-after", map[string]any{"note": "ok"})
	require.Equal(t, 200, again.Code, "applied, its answer lost: the order as it stands: %s", again.Body)
	require.Equal(t, "true", again.Header().Get(httpapi.IdempotentReplayHeader))
	require.Contains(t, again.Body.String(), `"status":"approved"`)
	require.Equal(t, events, e.eventCount(o.ID), "never applied twice")

	// A crash before the change: the key was claimed, nothing applied.
	_, claimed, err := store.Claim(ctx, workorders.IdempotentRequest{UserID: e.users[workorders.RolePlanner].ID, Key: "crash-before",
		Fingerprint: []byte("x"), Method: "POST", Path: "/api/v1/work-orders/" + o.ID + "/assign", Claim: "dead"}, workorders.IdempotencyWindow)
	require.NoError(t, err)
	require.True(t, claimed)
	body := map[string]any{"assignee_id": e.users[workorders.RoleEngineer].ID}
	busy := e.keyed(restarted, "POST", "/api/v1/work-orders/"+o.ID+"/assign", workorders.RolePlanner, "crash-before", body)
	require.Equal(t, 422, busy.Code, "another fingerprint: %s", busy.Body)
	backdate("crash-before", 3*time.Minute)
	retry := e.keyed(restarted, "POST", "/api/v1/work-orders/"+o.ID+"/assign", workorders.RolePlanner, "crash-before", body)
	require.Equal(t, 200, retry.Code, "the abandoned key is taken over: %s", retry.Body)
	require.Equal(t, events+1, e.eventCount(o.ID))

	// A slow request whose key a retry took over cannot apply any more.
	planner := e.users[workorders.RolePlanner]
	_, claimed, err = store.Claim(ctx, workorders.IdempotentRequest{UserID: planner.ID, Key: "slow", Fingerprint: []byte("y"),
		Method: "POST", Path: "/x", Claim: "first"}, workorders.IdempotencyWindow)
	require.NoError(t, err)
	require.True(t, claimed)
	backdate("slow", 3*time.Minute)
	_, claimed, err = store.Claim(ctx, workorders.IdempotentRequest{UserID: planner.ID, Key: "slow", Fingerprint: []byte("y"),
		Method: "POST", Path: "/x", Claim: "second"}, workorders.IdempotencyWindow)
	require.NoError(t, err)
	require.True(t, claimed, "taken over")
	slow := workorders.WithIdempotencyMark(ctx, workorders.IdempotencyMark{UserID: planner.ID, Key: "slow", Claim: "first"})
	_, err = e.svc.Act(slow, o.ID, workorders.ActionRequest{Action: workorders.ActCancel, Actor: workorders.System("t")})
	require.True(t, errors.Is(err, workorders.ErrConflict), "got %v", err)
	got, err := e.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.StatusAssigned, got.Status, "the overtaken request changed nothing")
}
