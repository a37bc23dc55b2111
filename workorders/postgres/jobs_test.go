package postgres_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

func TestSLAJobMarksAtRiskThenBreachesAndEscalates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.svc.PutSLAPolicy(ctx, workorders.SLAPolicy{Priority: workorders.P3, Response: rules.Duration(time.Hour),
		Resolve: rules.Duration(4 * time.Hour), PauseOnHold: true})
	require.NoError(t, err)
	f.svc.AllowPrivateWebhooks = true
	hook, err := f.svc.CreateWebhook(ctx, workorders.Webhook{URL: "http://127.0.0.1:9/hook", Secret: "s3cret-s3cret",
		EventTypes: []string{"work_order.sla_breached"}, Active: true})
	require.NoError(t, err)
	o, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Check", Priority: workorders.P3})
	require.NoError(t, err)
	start := f.now
	job := workorders.NewSLAJob(f.svc)

	f.now = start.Add(30 * time.Minute)
	require.NoError(t, job.Run(ctx))
	got, err := f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.SLAOK, got.SLAState)

	f.now = start.Add(50 * time.Minute)
	require.NoError(t, job.Run(ctx))
	got, err = f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.SLAAtRisk, got.SLAState)
	require.NoError(t, job.Run(ctx))

	f.now = start.Add(61 * time.Minute)
	require.NoError(t, job.Run(ctx))
	got, err = f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.SLABreached, got.SLAState)
	require.Equal(t, workorders.P2, got.Priority, "escalated one step")
	require.NoError(t, job.Run(ctx))
	evs, err := f.svc.ListEvents(ctx, o.ID)
	require.NoError(t, err)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	require.Equal(t, []string{"created", "sla_at_risk", "sla_breached"}, types)
	ds, _, err := f.svc.ListDeliveries(ctx, hook.ID, workorders.Page{})
	require.NoError(t, err)
	require.Len(t, ds, 1, "only the subscribed event type")
	require.Equal(t, "work_order.sla_breached", ds[0].EventType)
}

func TestSLAJobRunsOnOneReplica(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.svc.PutSLAPolicy(ctx, workorders.SLAPolicy{Priority: workorders.P3, Response: rules.Duration(time.Hour),
		Resolve: rules.Duration(4 * time.Hour)})
	require.NoError(t, err)
	o, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Check", Priority: workorders.P3})
	require.NoError(t, err)
	f.now = f.now.Add(2 * time.Hour)
	// Another replica holds the job's lock: this one does nothing.
	hold := make(chan struct{})
	held := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = f.store.WithLock(ctx, workorders.LockSLAJob, func(context.Context) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-held
	require.NoError(t, workorders.NewSLAJob(f.svc).Run(ctx))
	got, err := f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.SLAOK, got.SLAState)
	close(hold)
	<-done
	require.NoError(t, workorders.NewSLAJob(f.svc).Run(ctx))
	got, err = f.svc.GetOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, workorders.SLABreached, got.SLAState)
}

func TestEvaluateSLAPausesOnHold(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	acc := t0.Add(10 * time.Minute)
	hold := t0.Add(time.Hour)
	p := workorders.SLAPolicy{Priority: workorders.P2, Response: rules.Duration(time.Hour), Resolve: rules.Duration(4 * time.Hour), PauseOnHold: true}
	o := workorders.Order{CreatedAt: t0, ApprovedAt: &t0, AcceptedAt: &acc, OnHoldSince: &hold, HeldFor: rules.Duration(30 * time.Minute)}
	// 10 h later, on hold for 9 h plus 30 min earlier: 30 min on the clock.
	ev := workorders.EvaluateSLA(o, p, t0.Add(10*time.Hour))
	require.Equal(t, workorders.SLAOK, ev.State)
	require.Equal(t, 30*time.Minute, ev.Elapsed)
	p.PauseOnHold = false
	ev = workorders.EvaluateSLA(o, p, t0.Add(10*time.Hour))
	require.Equal(t, workorders.SLABreached, ev.State)
	require.Equal(t, "resolution", ev.Clock)
}

func TestWebhookReceiverDownStillGetsEveryEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// A port with nothing listening: the receiver is down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	const secret = "webhook-secret-1"
	f.svc.AllowPrivateWebhooks = true // the receiver is a local test server
	hook, err := f.svc.CreateWebhook(ctx, workorders.Webhook{URL: "http://" + addr + "/hook", Secret: secret, Active: true})
	require.NoError(t, err)

	var clock atomic.Int64
	clock.Store(time.Now().Add(time.Minute).UnixNano())
	d := workorders.NewDispatcher(f.svc)
	d.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	d.Client = &http.Client{Timeout: 2 * time.Second}

	// Events while the receiver is down: created + 3 transitions.
	o, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Check"})
	require.NoError(t, err)
	eng, _, err := f.svc.CreateUser(ctx, "eng", workorders.RoleEngineer)
	require.NoError(t, err)
	for _, a := range []workorders.ActionRequest{{Action: workorders.ActAssign, AssigneeID: eng.ID}, {Action: workorders.ActAccept},
		{Action: workorders.ActStart}} {
		a.Actor = f.admin
		_, err := f.svc.Act(ctx, o.ID, a)
		require.NoError(t, err)
	}
	for range 3 {
		n, err := d.RunOnce(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		clock.Add(int64(10 * time.Minute))
	}
	log, _, err := f.svc.ListAttempts(ctx, hook.ID, workorders.Page{})
	require.NoError(t, err)
	require.Len(t, log, 3, "one failed attempt per round on the head of the queue")
	require.NotEmpty(t, log[0].Error)

	// The receiver comes back on the same address.
	var mu sync.Mutex
	var got []string
	bad := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !workorders.VerifySignature(secret, r.Header.Get(workorders.TimestampHeader), body, r.Header.Get(workorders.SignatureHeader),
			time.Unix(0, clock.Load()), 5*time.Minute) {
			bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &p)
		got = append(got, p.Type)
	}))
	l2, err := net.Listen("tcp", addr)
	require.NoError(t, err, "re-listen on %s", addr)
	srv.Listener = l2
	srv.Start()
	defer srv.Close()

	// One more event after recovery.
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActHold, Reason: "waiting_for_parts", Actor: f.admin})
	require.NoError(t, err)
	clock.Add(int64(time.Hour))
	n, err := d.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	mu.Lock()
	defer mu.Unlock()
	require.Zero(t, bad)
	require.Equal(t, []string{"work_order.created", "work_order.assigned", "work_order.accepted", "work_order.started",
		"work_order.held"}, got, "every event, in order")
	ds, _, err := f.svc.ListDeliveries(ctx, hook.ID, workorders.Page{})
	require.NoError(t, err)
	for _, dl := range ds {
		require.Equal(t, workorders.DeliveryDelivered, dl.Status)
	}
	// The outbox is pruned: finished deliveries and attempts older than Keep.
	d.Keep = 24 * time.Hour
	n, err = d.Prune(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is old enough yet")
	clock.Add(int64(48 * time.Hour))
	n, err = d.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, n, "the 5 deliveries (their attempts go with them)")
	ds, _, err = f.svc.ListDeliveries(ctx, hook.ID, workorders.Page{})
	require.NoError(t, err)
	require.Empty(t, ds)
	log, _, err = f.svc.ListAttempts(ctx, hook.ID, workorders.Page{})
	require.NoError(t, err)
	require.Empty(t, log)
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":1}`)
	now := time.Unix(1772366400, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := workorders.Sign("k", now.Unix(), body)
	require.True(t, workorders.VerifySignature("k", ts, body, sig, now, 5*time.Minute))
	require.False(t, workorders.VerifySignature("other", ts, body, sig, now, 5*time.Minute))
	require.False(t, workorders.VerifySignature("k", ts, []byte(`{"a":2}`), sig, now, 5*time.Minute))
	require.False(t, workorders.VerifySignature("k", "1772366401", body, sig, now, 5*time.Minute), "the timestamp is signed")
	require.False(t, workorders.VerifySignature("k", ts, body, sig, now.Add(time.Hour), 5*time.Minute), "a replay an hour later")
}

func TestWebhookTargetsAndRedirects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// Private, loopback, link-local and multicast targets are refused.
	for _, u := range []string{"http://127.0.0.1:9/h", "http://localhost/h", "http://10.1.2.3/h", "http://[::1]/h",
		"http://169.254.169.254/latest/meta-data", "http://224.0.0.1/h", "http://0.0.0.0/h", "http://192.168.1.1/h"} {
		_, err := f.svc.CreateWebhook(ctx, workorders.Webhook{URL: u, Secret: "0123456789", Active: true})
		var ve *workorders.ValidationError
		require.ErrorAs(t, err, &ve, u)
	}
	// A name is checked when delivering (DNS rebinding): here a hook made
	// while allowed, sent by a dispatcher that does not allow it.
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redirect.Close()
	f.svc.AllowPrivateWebhooks = true
	hook, err := f.svc.CreateWebhook(ctx, workorders.Webhook{URL: strings.Replace(target.URL, "127.0.0.1", "localhost", 1),
		Secret: "0123456789", Active: true})
	require.NoError(t, err)
	hook2, err := f.svc.CreateWebhook(ctx, workorders.Webhook{URL: redirect.URL, Secret: "0123456789", Active: true})
	require.NoError(t, err)
	_, err = f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Check"})
	require.NoError(t, err)

	strict := workorders.NewDispatcher(f.svc)
	strict.Client = workorders.WebhookClient(false)
	strict.Now = func() time.Time { return time.Now().Add(time.Minute) }
	n, err := strict.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	log, _, err := f.svc.ListAttempts(ctx, hook.ID, workorders.Page{})
	require.NoError(t, err)
	require.Len(t, log, 1)
	require.Contains(t, log[0].Error, "not allowed")

	// Redirects are never followed, even where private targets are allowed.
	lax := workorders.NewDispatcher(f.svc)
	lax.Now = func() time.Time { return time.Now().Add(time.Hour) }
	_, err = lax.RunOnce(ctx)
	require.NoError(t, err)
	log, _, err = f.svc.ListAttempts(ctx, hook2.ID, workorders.Page{})
	require.NoError(t, err)
	require.NotEmpty(t, log)
	require.Equal(t, http.StatusFound, log[0].StatusCode)
	require.EqualValues(t, 1, hits.Load(), "only the direct hook reached the target; the redirect was not followed")
}

func TestDispatcherRunStopsWithContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-PDM-Event")
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.svc.AllowPrivateWebhooks = true
	_, err := f.svc.CreateWebhook(ctx, workorders.Webhook{URL: srv.URL, Secret: "0123456789", Active: true,
		EventTypes: []string{"work_order.created"}})
	require.NoError(t, err)
	d := workorders.NewDispatcher(f.svc)
	d.Now = time.Now
	d.Interval = 20 * time.Millisecond
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	_, err = f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Check"})
	require.NoError(t, err)
	select {
	case ev := <-got:
		require.Equal(t, "work_order.created", ev)
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10 s")
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestWebhookSlowReceiverDelaysOnlyItself(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.svc.AllowPrivateWebhooks = true // the receivers are local test servers

	// The slow receiver holds every request until released.
	release := make(chan struct{})
	var slowGot atomic.Int32
	slowEntered := make(chan struct{}, 100)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowEntered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		slowGot.Add(1)
	}))
	defer slow.Close()
	defer close(release)
	var mu sync.Mutex
	var fastGot []string
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fastGot = append(fastGot, r.Header.Get("X-PDM-Event"))
	}))
	defer fast.Close()
	for _, u := range []string{slow.URL, fast.URL} {
		_, err := f.svc.CreateWebhook(ctx, workorders.Webhook{URL: u, Secret: "0123456789", Active: true})
		require.NoError(t, err)
	}

	d := workorders.NewDispatcher(f.svc)
	d.Now = time.Now
	d.Interval = 20 * time.Millisecond
	d.Client = &http.Client{Timeout: time.Hour} // the slow receiver never times out here
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	o, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Check"})
	require.NoError(t, err)
	select {
	case <-slowEntered:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow receiver never got its first delivery")
	}
	// While the slow receiver holds its first delivery, later events still
	// reach the fast one, round after round.
	eng, _, err := f.svc.CreateUser(ctx, "eng", workorders.RoleEngineer)
	require.NoError(t, err)
	for _, a := range []workorders.ActionRequest{{Action: workorders.ActAssign, AssigneeID: eng.ID}, {Action: workorders.ActAccept},
		{Action: workorders.ActStart}} {
		a.Actor = f.admin
		_, err := f.svc.Act(ctx, o.ID, a)
		require.NoError(t, err)
	}
	want := []string{"work_order.created", "work_order.assigned", "work_order.accepted", "work_order.started"}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(fastGot) == len(want)
	}, 30*time.Second, 10*time.Millisecond, "the fast receiver gets every event while the slow one is stuck")
	mu.Lock()
	require.Equal(t, want, fastGot, "in order")
	mu.Unlock()
	require.Zero(t, slowGot.Load(), "the slow receiver is still on its first delivery")
	require.Len(t, slowEntered, 0, "one delivery at a time per receiver")

	// Released, the slow receiver gets its queue too, in turn.
	release <- struct{}{}
	for range len(want) - 1 {
		select {
		case <-slowEntered:
		case <-time.After(30 * time.Second):
			t.Fatal("the slow receiver's next delivery never came")
		}
		release <- struct{}{}
	}
	require.Eventually(t, func() bool { return slowGot.Load() == int32(len(want)) }, 30*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
