package workorders

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body with the
// webhook's secret>".
const SignatureHeader = "X-PDM-Signature"

// Sign returns the X-PDM-Signature value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether sig is body's signature under secret.
func VerifySignature(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Dispatcher sends the webhook outbox: every pending delivery, in event
// order per webhook, retried with exponential backoff until the receiver
// answers 2xx. One replica sends at a time (advisory lock).
type Dispatcher struct {
	store Store
	log   *slog.Logger
	// Client sends the requests (default: 10 s timeout).
	Client *http.Client
	// Now is the dispatcher's clock.
	Now func() time.Time
	// Interval between polls of the outbox (default 1 s).
	Interval time.Duration
	// Backoff returns the wait before attempt n+1 after n failed attempts
	// (default 1 s doubling up to 5 min).
	Backoff func(n int) time.Duration
	// MaxAttempts marks a delivery failed after this many attempts; 0
	// retries forever, so a receiver down for a while gets every event.
	MaxAttempts int
	// Batch is how many deliveries one poll sends at most (default 100).
	Batch int
}

// NewDispatcher returns a dispatcher over svc's store, clock and logger.
func NewDispatcher(svc *Service) *Dispatcher {
	return &Dispatcher{store: svc.Store, log: svc.Log, Now: svc.Now, Client: &http.Client{Timeout: 10 * time.Second},
		Interval: time.Second, Batch: 100, Backoff: DefaultBackoff}
}

// DefaultBackoff is 1 s doubling per failed attempt, at most 5 min.
func DefaultBackoff(n int) time.Duration {
	if n > 9 {
		return 5 * time.Minute
	}
	return min(time.Second<<max(n-1, 0), 5*time.Minute)
}

// Run sends deliveries until ctx ends: every Interval it takes the sending
// lock (when no other replica holds it), sends what is due and lets the
// lock and its connection go again. It returns nil when ctx is cancelled.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "webhook delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce sends what is due now (under the lock) and returns how many
// deliveries succeeded.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	var n int
	_, err := d.store.WithLock(ctx, LockWebhooks, func(ctx context.Context) error {
		var err error
		n, err = d.drain(ctx)
		return err
	})
	return n, err
}

// drain sends due deliveries until none is due.
func (d *Dispatcher) drain(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		due, err := d.store.DueDeliveries(ctx, d.Now(), d.Batch)
		if err != nil {
			return sent, err
		}
		if len(due) == 0 {
			return sent, nil
		}
		progress := false
		for _, dd := range due {
			ok, err := d.send(ctx, dd)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
				progress = true
			}
		}
		if !progress {
			return sent, nil
		}
	}
	return sent, ctx.Err()
}

// send makes one attempt and records it; it reports whether it was delivered.
func (d *Dispatcher) send(ctx context.Context, dd DueDelivery) (bool, error) {
	start := d.Now()
	status, sendErr := d.post(ctx, dd)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	a := DeliveryAttempt{DeliveryID: dd.ID, WebhookID: dd.WebhookID, EventType: dd.EventType, At: start.UTC(),
		StatusCode: status, DurationMS: d.Now().Sub(start).Milliseconds()}
	out := DeliveryOutcome{Status: DeliveryDelivered, NextAttemptAt: start}
	if sendErr != nil {
		a.Error = sendErr.Error()
		attempts := dd.Attempts + 1
		out.Status = DeliveryPending
		out.NextAttemptAt = start.Add(d.Backoff(attempts))
		if d.MaxAttempts > 0 && attempts >= d.MaxAttempts {
			out.Status = DeliveryFailed
		}
	}
	if err := d.store.RecordAttempt(ctx, a, out); err != nil {
		return false, fmt.Errorf("record attempt of delivery %d: %w", dd.ID, err)
	}
	return sendErr == nil, nil
}

func (d *Dispatcher) post(ctx context.Context, dd DueDelivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dd.URL, bytes.NewReader(dd.Payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pdm-webhooks/1")
	req.Header.Set("X-PDM-Event", dd.EventType)
	req.Header.Set("X-PDM-Delivery", strconv.FormatInt(dd.ID, 10))
	req.Header.Set(SignatureHeader, Sign(dd.Secret, dd.Payload))
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
