package postgres_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

func TestWebhookLockLostMidDeliveryIsNotSentTwice(t *testing.T) {
	t.Parallel()
	store, pool := migratedStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := workorders.NewService(store, nil, time.Now)
	svc.AllowPrivateWebhooks = true // the receiver is a local test server
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "p1", Name: "P1"})
	require.NoError(t, err)
	asset, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "a1", Type: "pump", Name: "A1", Criticality: 3})
	require.NoError(t, err)
	u, _, err := svc.CreateUser(ctx, "alice", workorders.RoleAdmin)
	require.NoError(t, err)

	var mu sync.Mutex
	got := map[string]int{}
	entered := make(chan string, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-PDM-Delivery")
		mu.Lock()
		got[id]++
		mu.Unlock()
		entered <- id
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err = svc.CreateWebhook(ctx, workorders.Webhook{URL: srv.URL, Secret: "0123456789", Active: true,
		EventTypes: []string{"work_order.created"}})
	require.NoError(t, err)
	_, err = svc.CreateOrder(ctx, workorders.ActorOf(u), workorders.NewOrder{AssetID: asset.ID, Title: "Check"})
	require.NoError(t, err)

	// Dispatcher A takes the sending lock and posts the delivery; the
	// receiver holds it.
	a := workorders.NewDispatcher(svc)
	a.Interval = 20 * time.Millisecond
	a.Client = &http.Client{Timeout: time.Minute}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(ctx) }()
	var delivery string
	select {
	case delivery = <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver never got the delivery")
	}

	// A's lock connection dies (a reconnect, a failover): the lock is free.
	var killed int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from (select pg_terminate_backend(l.pid) from pg_locks l
		where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
		and (l.classid::bigint << 32) + l.objid::bigint = $1) k`, workorders.LockWebhooks).Scan(&killed))
	require.Equal(t, 1, killed, "exactly A's lock connection")

	// Dispatcher B now gets the lock: the delivery A is sending is claimed
	// (leased), so B leaves it alone.
	b := workorders.NewDispatcher(svc)
	b.Client = &http.Client{Timeout: time.Minute}
	require.Eventually(t, func() bool {
		n, err := b.RunOnce(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		var free bool
		require.NoError(t, pool.QueryRow(ctx, `select not exists (select 1 from pg_locks where locktype = 'advisory' and granted
			and database = (select oid from pg_database where datname = current_database()))`).Scan(&free))
		return free // B ran under the lock (and released it) rather than finding it taken
	}, 10*time.Second, 20*time.Millisecond)
	mu.Lock()
	require.Equal(t, map[string]int{delivery: 1}, got, "B did not send A's delivery again")
	mu.Unlock()

	// The receiver answers A; A records the delivery.
	release <- struct{}{}
	require.Eventually(t, func() bool {
		var status string
		require.NoError(t, pool.QueryRow(ctx, `select status from webhook_deliveries where id = $1::bigint`, delivery).Scan(&status))
		return status == workorders.DeliveryDelivered
	}, 30*time.Second, 20*time.Millisecond)
	n, err := b.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to send")
	mu.Lock()
	require.Equal(t, map[string]int{delivery: 1}, got, "sent exactly once")
	mu.Unlock()
	cancel()
	require.NoError(t, <-aDone)
}

func TestWebhookClaimOfADeadDispatcherIsSentAgainAfterItsLease(t *testing.T) {
	t.Parallel()
	store, pool := migratedStore(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	svc := workorders.NewService(store, nil, clock)
	svc.AllowPrivateWebhooks = true
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "p1", Name: "P1"})
	require.NoError(t, err)
	asset, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "a1", Type: "pump", Name: "A1", Criticality: 3})
	require.NoError(t, err)
	u, _, err := svc.CreateUser(ctx, "alice", workorders.RoleAdmin)
	require.NoError(t, err)
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("X-PDM-Event"))
	}))
	defer srv.Close()
	_, err = svc.CreateWebhook(ctx, workorders.Webhook{URL: srv.URL, Secret: "0123456789", Active: true})
	require.NoError(t, err)
	o, err := svc.CreateOrder(ctx, workorders.ActorOf(u), workorders.NewOrder{AssetID: asset.ID, Title: "Check"})
	require.NoError(t, err)
	_, err = svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActCancel, Reason: "duplicate", Actor: workorders.ActorOf(u)})
	require.NoError(t, err)

	now = time.Now().Add(time.Second) // the outbox rows are due from the database's now()

	// A dispatcher claims the queue's head and dies before sending it.
	claimed, err := store.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "only the head of the webhook's queue")
	again, err := store.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Empty(t, again, "a leased head is nobody else's, and the queue behind it waits")

	d := workorders.NewDispatcher(svc)
	d.Now = clock
	n, err := d.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "within the lease nothing is sent")
	// The dead dispatcher's late answer cannot move the delivery on.
	require.NoError(t, store.RecordAttempt(ctx, "00000000-0000-4000-8000-000000000000",
		workorders.DeliveryAttempt{DeliveryID: claimed[0].ID, WebhookID: claimed[0].WebhookID, EventType: claimed[0].EventType, At: now},
		workorders.DeliveryOutcome{Status: workorders.DeliveryDelivered, NextAttemptAt: now}))
	var status string
	require.NoError(t, pool.QueryRow(ctx, `select status from webhook_deliveries where id = $1`, claimed[0].ID).Scan(&status))
	require.Equal(t, workorders.DeliveryPending, status, "only the claim's holder records the outcome")

	now = now.Add(time.Minute + time.Second)
	n, err = d.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "after the lease the head is sent (at least once), then the rest")
	mu.Lock()
	require.Equal(t, []string{"work_order.created", "work_order.cancelled"}, got)
	mu.Unlock()
}
