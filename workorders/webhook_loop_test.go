package workorders

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// endingOutbox hands out one delivery and, when the dispatcher records
// its attempt, waits for the dispatcher's context to end before it says
// the record was stored: the sender finishes after the loop has seen the
// end. The outbox is a stand-in for the store (the loop's bookkeeping is
// what is tested); the PostgreSQL outbox is tested in workorders/postgres.
type endingOutbox struct {
	mu        sync.Mutex
	url       string
	handed    bool
	recording chan struct{}
}

func (o *endingOutbox) ClaimDeliveries(_ context.Context, _, _ time.Time, _ int) ([]DueDelivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.handed {
		return nil, nil
	}
	o.handed = true
	return []DueDelivery{{Delivery: Delivery{ID: 1, WebhookID: "w1", EventType: "work_order.created",
		Payload: []byte(`{}`)}, URL: o.url, Claim: "c1"}}, nil
}

func (o *endingOutbox) RecordAttempt(ctx context.Context, _ string, _ DeliveryAttempt, _ DeliveryOutcome) error {
	close(o.recording)
	<-ctx.Done()
	return nil
}

func (o *endingOutbox) ReleaseDelivery(context.Context, int64, string) error { return nil }
func (o *endingOutbox) PruneDeliveries(context.Context, time.Time) (int, error) {
	return 0, nil
}

func (o *endingOutbox) WithLock(ctx context.Context, _ int64, fn func(ctx context.Context) error) (bool, error) {
	return true, fn(ctx)
}

// A delivery that a sender records as the loop ends is counted: the
// count is read after the senders are awaited, not while one may still
// add to it (the race detector caught the earlier read in CI).
func TestDispatcherCountsADeliveryRecordedAsItStops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ob := &endingOutbox{url: srv.URL, recording: make(chan struct{})}
	d := &Dispatcher{store: ob, log: slog.New(slog.DiscardHandler), Client: srv.Client(), Now: time.Now,
		Interval: time.Hour, Batch: 10, Parallel: 4, Backoff: DefaultBackoff, Lease: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		n, err := d.RunOnce(ctx)
		res <- result{n, err}
	}()
	select {
	case <-ob.recording:
	case <-time.After(30 * time.Second):
		t.Fatal("the delivery was never recorded")
	}
	cancel()
	r := <-res
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("RunOnce ended with %v, want the context's end", r.err)
	}
	if r.n != 1 {
		t.Fatalf("RunOnce counted %d deliveries, want the 1 recorded", r.n)
	}
}
