package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

// apiReplica is a second API process on the same database: its own pool,
// store, service and order cache.
func apiReplica(t *testing.T, e *env, mutate ...func(*httpapi.Config)) *httpapi.Server {
	t.Helper()
	ctx := context.Background()
	st, ok := e.svc.Store.(*postgres.Store)
	require.True(t, ok)
	pool, err := pgxpool.New(ctx, st.Pool().Config().ConnConfig.ConnString())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	cfg := httpapi.Config{Service: workorders.NewService(postgres.New(pool), nil, nil)}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := httpapi.New(cfg)
	require.NoError(t, err)
	return srv
}

func getOK(t *testing.T, srv *httpapi.Server, path, token string) []byte {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, "%s: %s", path, rec.Body.Bytes())
	return rec.Body.Bytes()
}

func listedOrder(t *testing.T, body []byte, id string) workorders.Order {
	t.Helper()
	var l struct{ Items []workorders.Order }
	require.NoError(t, json.Unmarshal(body, &l), string(body))
	for _, o := range l.Items {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("order %s not in %s", id, body)
	return workorders.Order{}
}

// An API replica answers a list from its cache of rendered orders; an
// order changed by another replica, or by plain SQL, shows its new content
// in the next list of every replica, since the version comes from the row.
func TestOrderListCacheFollowsWrites(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	_, asset, _, order := a.seed()
	for i := range 3 {
		a.mustJSON("POST", "/api/v1/work-orders", workorders.RolePlanner, map[string]any{"asset_id": asset.ID,
			"title": fmt.Sprint("manual ", i)}, 201, nil)
	}
	b := apiReplica(t, a)
	tok := a.tokens[workorders.RolePlanner]
	const all = "/api/v1/work-orders?limit=10"
	for _, srv := range []*httpapi.Server{a.srv, b} {
		require.Equal(t, workorders.StatusProposed, listedOrder(t, getOK(t, srv, all, tok), order.ID).Status)
		require.Equal(t, 4, httpapi.CachedOrders(srv), "the list's orders are cached")
		// The second list is from the cache, and the same.
		require.Equal(t, getOK(t, srv, all, tok), getOK(t, srv, all, tok))
	}

	// Approved through replica b: replica a lists it approved.
	req := httptest.NewRequest("POST", "/api/v1/work-orders/"+order.ID+"/approve", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	for _, srv := range []*httpapi.Server{a.srv, b} {
		require.Equal(t, workorders.StatusApproved, listedOrder(t, getOK(t, srv, all, tok), order.ID).Status)
		require.Equal(t, workorders.StatusApproved,
			listedOrder(t, getOK(t, srv, "/api/v1/work-orders?status=approved", tok), order.ID).Status)
	}

	// Renamed by plain SQL: both list the new title.
	st := a.svc.Store.(*postgres.Store)
	_, err := st.Pool().Exec(context.Background(), `update work_orders set title = 'renamed <by> SQL' where id = $1`, order.ID)
	require.NoError(t, err)
	for _, srv := range []*httpapi.Server{a.srv, b} {
		require.Equal(t, "renamed <by> SQL", listedOrder(t, getOK(t, srv, all, tok), order.ID).Title)
	}
	// Old versions stay until they age out; they are never answered.
	require.GreaterOrEqual(t, httpapi.CachedOrders(a.srv), 5)
}

// Through the cache or not, a list is the same bytes: status links made
// absolute for the request's host, the engineers' view, every page.
func TestOrderListCacheSameAnswer(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	_, asset, _, order := a.seed()
	for i := range 7 {
		a.mustJSON("POST", "/api/v1/work-orders", workorders.RolePlanner, map[string]any{"asset_id": asset.ID,
			"title": fmt.Sprint("manual \u2028<", i, ">"), "required_skills": []string{"vibration"}}, 201, nil)
	}
	st := a.svc.Store.(*postgres.Store)
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, `update work_orders set status_path = '/s/tok' where id = $1`, order.ID)
	require.NoError(t, err)
	eng := a.users[workorders.RoleEngineer]
	_, err = st.Pool().Exec(ctx, `update work_orders set assignee_id = $1, status = 'assigned'
		where id in (select id from work_orders where id <> $2 order by created_at limit 3)`, eng.ID, order.ID)
	require.NoError(t, err)
	plain := apiReplica(t, a, func(c *httpapi.Config) { c.OrderCacheBytes = -1 })
	require.Equal(t, -1, httpapi.CachedOrders(plain))

	for _, q := range []struct {
		path string
		role workorders.Role
	}{
		{"/api/v1/work-orders?limit=3", workorders.RolePlanner},
		{"/api/v1/work-orders?sort=risk&limit=3", workorders.RolePlanner},
		{"/api/v1/work-orders?status=approved,proposed&limit=3", workorders.RoleViewer},
		{"/api/v1/work-orders?limit=2", workorders.RoleEngineer},
		{"/api/v1/me/jobs?limit=2", workorders.RoleEngineer},
	} {
		path, pages := q.path, 0
		for {
			want := getOK(t, plain, path, a.tokens[q.role])
			for range 2 { // filling the cache, then from it
				require.Equal(t, string(want), string(getOK(t, a.srv, path, a.tokens[q.role])), path)
			}
			pages++
			var l struct {
				Items      []workorders.Order
				NextCursor string `json:"next_cursor"`
			}
			require.NoError(t, json.Unmarshal(want, &l))
			for _, o := range l.Items {
				if o.ID == order.ID {
					require.Equal(t, "http://example.com/s/tok", o.StatusURL)
				}
			}
			if l.NextCursor == "" {
				break
			}
			path = q.path + "&cursor=" + l.NextCursor
		}
		require.Greater(t, pages, 1, q.path)
	}
	require.Contains(t, string(getOK(t, a.srv, "/api/v1/work-orders", a.tokens[workorders.RolePlanner])), `"status_url":"http://example.com/s/tok"`)
}

// churningStore finds every order changed when the list loads it (as if
// each were written between the page's read and the load).
type churningStore struct {
	*postgres.Store
	loads int
}

func (s *churningStore) LoadOrderVersions(context.Context, []workorders.OrderVersion) ([]workorders.Order, error) {
	s.loads++
	return nil, workorders.ErrVersionChanged
}

// Orders changed under the list every time: after a few attempts the list
// is read whole, still right.
func TestOrderListCacheGivesUpOnChurn(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	_, _, _, order := a.seed()
	st := a.svc.Store.(*postgres.Store)
	churn := &churningStore{Store: st}
	srv, err := httpapi.New(httpapi.Config{Service: workorders.NewService(churn, nil, nil)})
	require.NoError(t, err)
	tok := a.tokens[workorders.RolePlanner]
	// Listed for the first time: whole, and cached.
	require.Equal(t, order.Title, listedOrder(t, getOK(t, srv, "/api/v1/work-orders", tok), order.ID).Title)
	require.Equal(t, 1, httpapi.CachedOrders(srv))
	// Then from the cache.
	getOK(t, srv, "/api/v1/work-orders", tok)
	require.Equal(t, 0, churn.loads)
	hits, misses := httpapi.OrderCacheHits(srv)
	require.Equal(t, [2]int64{1, 1}, [2]int64{hits, misses})
	// Changed: the one order is loaded, and found changed every time.
	_, err = st.Pool().Exec(context.Background(), `update work_orders set title = 'changed' where id = $1`, order.ID)
	require.NoError(t, err)
	require.Equal(t, "changed", listedOrder(t, getOK(t, srv, "/api/v1/work-orders", tok), order.ID).Title)
	require.Equal(t, 3, churn.loads)
	require.Equal(t, 2, httpapi.CachedOrders(srv))
}
