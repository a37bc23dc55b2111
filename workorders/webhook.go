package workorders

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 with the webhook's
// secret of the timestamp, a dot and the body>"; TimestampHeader the
// timestamp (Unix seconds). A receiver recomputes the HMAC over
// X-PDM-Timestamp + "." + the raw body, compares it in constant time and
// refuses timestamps more than a few minutes old, so that a captured
// delivery cannot be replayed (VerifySignature does all three).
const (
	SignatureHeader = "X-PDM-Signature"
	TimestampHeader = "X-PDM-Timestamp"
)

// Sign returns the X-PDM-Signature value for body sent at ts (Unix seconds).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether sig is the signature of body sent at
// timestamp (the X-PDM-Timestamp header) under secret, and the timestamp
// lies within tolerance of now.
func VerifySignature(secret string, timestamp string, body []byte, sig string, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig))
}

// Dispatcher sends the webhook outbox: every pending delivery, in event
// order per webhook, retried with exponential backoff until the receiver
// answers 2xx. One replica sends at a time (advisory lock); each delivery
// is claimed with a lease before it is sent (Lease), so that a replica that
// lost its lock connection mid-send and the one that then took the lock
// never both send it, and one whose sender died sends it again after the
// lease (at least once). Each receiver
// is sent to independently: one delivery at a time (its order), its own
// backoff (a failed head delays only that webhook's queue), and a slow
// receiver holds one sending slot while the others carry on and later
// polling rounds go on without waiting for it.
type Dispatcher struct {
	store outbox
	log   *slog.Logger
	// Client sends the requests (default: 10 s timeout).
	Client *http.Client
	// Now is the dispatcher's clock.
	Now func() time.Time
	// Interval between polls of the outbox (default 1 s); a finished
	// delivery triggers the next poll at once.
	Interval time.Duration
	// Backoff returns the wait before attempt n+1 after n failed attempts
	// (default 1 s doubling up to 5 min).
	Backoff func(n int) time.Duration
	// MaxAttempts marks a delivery failed after this many attempts; 0
	// retries forever, so a receiver down for a while gets every event.
	MaxAttempts int
	// Batch is how many due deliveries (one per receiver) one poll reads
	// at most (default 100).
	Batch int
	// Keep is how long finished deliveries and attempts stay in the log
	// (default 7 days); older ones are pruned about once an hour.
	Keep time.Duration
	// Parallel is how many receivers are sent to at once (default 16).
	Parallel int
	// Lease is how long a claimed delivery is reserved for this
	// dispatcher (default 1 min): no other dispatcher sends it meanwhile,
	// and a send still unanswered after three quarters of it is given up
	// (and tried again), so that it never overlaps another's.
	Lease time.Duration
}

// outbox is what the dispatcher reads and records.
type outbox interface {
	// ClaimDeliveries claims pending deliveries due at now and not leased
	// to anyone, oldest first, only the head of each webhook's queue, with
	// a lease until leaseUntil (committed before it returns).
	ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]DueDelivery, error)
	RecordAttempt(ctx context.Context, claim string, a DeliveryAttempt, outcome DeliveryOutcome) error
	ReleaseDelivery(ctx context.Context, id int64, claim string) error
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
	WithLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error)
}

// NewDispatcher returns a dispatcher over svc's store, clock and logger.
func NewDispatcher(svc *Service) *Dispatcher {
	return &Dispatcher{store: svc.Store, log: svc.Log, Now: svc.Now, Client: WebhookClient(svc.AllowPrivateWebhooks),
		Interval: time.Second, Batch: 100, Parallel: 16, Keep: 7 * 24 * time.Hour, Backoff: DefaultBackoff, Lease: time.Minute}
}

// DefaultBackoff is 1 s doubling per failed attempt, at most 5 min.
func DefaultBackoff(n int) time.Duration {
	if n > 9 {
		return 5 * time.Minute
	}
	return min(time.Second<<max(n-1, 0), 5*time.Minute)
}

// Run sends deliveries until ctx ends. The replica that gets the sending
// lock keeps it and sends (polling every Interval) until ctx ends or the
// database fails; the others try again every Interval. It returns nil when
// ctx is cancelled, after the deliveries in flight have been recorded or
// abandoned (an abandoned one stays pending and is sent again).
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	for {
		_, err := d.store.WithLock(ctx, LockWebhooks, func(ctx context.Context) error {
			_, err := d.loop(ctx, false)
			return err
		})
		if err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "webhook delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Prune deletes finished deliveries and attempts older than Keep.
func (d *Dispatcher) Prune(ctx context.Context) (int, error) {
	return d.store.PruneDeliveries(ctx, d.Now().Add(-d.Keep))
}

// RunOnce sends what is due now (under the lock), each receiver until its
// queue is empty or its head not yet due again, and returns how many
// deliveries succeeded.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	var n int
	_, err := d.store.WithLock(ctx, LockWebhooks, func(ctx context.Context) error {
		var err error
		n, err = d.loop(ctx, true)
		return err
	})
	return n, err
}

// loop polls the outbox and starts one sender per receiver whose head is
// due and that has none running; it never waits for a sender, only for
// the next tick or a sender's end. With once it returns when nothing is
// due and nothing is in flight; otherwise when ctx ends or a poll fails.
func (d *Dispatcher) loop(ctx context.Context, once bool) (delivered int, _ error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards busy, finished, ends, failed, sent, firstErr
		busy = map[string]bool{}
		// finished is when (in ends, counted) a receiver's last sender
		// ended: a poll read before that is stale for the receiver.
		finished = map[string]int64{}
		ends     int64
		// failed: receivers whose attempt failed; RunOnce tries each at
		// most once per call whatever the backoff.
		failed   = map[string]bool{}
		sent     int
		firstErr error
		pruned   time.Time
	)
	// Senders outlive no loop: on return they are cancelled and awaited,
	// and only then is sent read (a sender still running when the loop
	// returns may count one more); the returns below leave the count here.
	sctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
		delivered = sent
	}()
	done := make(chan struct{}, 1)
	t := time.NewTicker(max(d.Interval, time.Millisecond))
	defer t.Stop()
	parallel := max(d.Parallel, 1)
	for {
		mu.Lock()
		inFlight := len(busy)
		err := firstErr
		polled := ends
		mu.Unlock()
		if once && err != nil {
			return 0, err
		}
		started, stale := 0, false
		if inFlight < parallel {
			now := d.Now()
			due, err := d.store.ClaimDeliveries(ctx, now, now.Add(d.lease()), max(d.Batch, 1)+inFlight)
			if err != nil {
				return 0, err
			}
			mu.Lock()
			var unsent []DueDelivery
			for _, dd := range due {
				if finished[dd.WebhookID] > polled {
					stale = true // read before its sender ended: poll again
					unsent = append(unsent, dd)
					continue
				}
				if busy[dd.WebhookID] || len(busy) >= parallel || (once && failed[dd.WebhookID]) {
					unsent = append(unsent, dd)
					continue
				}
				busy[dd.WebhookID] = true
				started++
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := d.send(sctx, dd)
					mu.Lock()
					delete(busy, dd.WebhookID)
					ends++
					finished[dd.WebhookID] = ends
					if ok {
						sent++
					} else {
						failed[dd.WebhookID] = true
					}
					if err != nil && sctx.Err() == nil {
						if firstErr == nil {
							firstErr = err
						}
						if !once {
							d.log.WarnContext(ctx, "webhook delivery", "webhook_id", dd.WebhookID, "err", err)
						}
					}
					mu.Unlock()
					select {
					case done <- struct{}{}:
					default:
					}
				}()
			}
			inFlight = len(busy)
			mu.Unlock()
			// Claimed but not started: free at once for the next poll.
			for _, dd := range unsent {
				if err := d.store.ReleaseDelivery(ctx, dd.ID, dd.Claim); err != nil {
					return 0, err
				}
			}
		}
		if once && started == 0 && inFlight == 0 {
			if !stale {
				return 0, nil
			}
			continue
		}
		if now := d.Now(); !once && d.Keep > 0 && now.Sub(pruned) > time.Hour {
			pruned = now
			if _, err := d.Prune(ctx); err != nil && ctx.Err() == nil {
				d.log.WarnContext(ctx, "webhook outbox pruning", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			if once {
				return 0, ctx.Err()
			}
			return 0, nil
		case <-done:
		case <-t.C:
		}
	}
}

func (d *Dispatcher) lease() time.Duration {
	if d.Lease <= 0 {
		return time.Minute
	}
	return d.Lease
}

// send makes one attempt and records it; it reports whether it was
// delivered. The attempt ends within three quarters of the lease; given up
// earlier (ctx ended), it is not recorded and the claim is released.
func (d *Dispatcher) send(ctx context.Context, dd DueDelivery) (bool, error) {
	start := d.Now()
	pctx, cancel := context.WithTimeout(ctx, d.lease()*3/4)
	status, sendErr := d.post(pctx, dd)
	cancel()
	if ctx.Err() != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.store.ReleaseDelivery(rctx, dd.ID, dd.Claim); err != nil {
			d.log.WarnContext(ctx, "webhook delivery: release claim", "delivery_id", dd.ID, "err", err)
		}
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
	if err := d.store.RecordAttempt(ctx, dd.Claim, a, out); err != nil {
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
	ts := d.Now().Unix()
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(SignatureHeader, Sign(dd.Secret, ts, dd.Payload))
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

// ErrForbiddenTarget: a webhook's address is loopback, link-local,
// private, unspecified or multicast and such targets are not allowed.
var ErrForbiddenTarget = errors.New("webhook target address not allowed")

// PublicAddr reports whether ip may receive webhooks when private targets
// are not allowed.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		// Carrier-grade NAT and the IPv4 "this network" block.
		netip.MustParsePrefix("100.64.0.0/10").Contains(ip) || netip.MustParsePrefix("0.0.0.0/8").Contains(ip))
}

// WebhookClient returns the client deliveries use: a 10 s timeout, no
// redirects followed (a 3xx is a failed attempt) and, unless allowPrivate,
// connections only to public addresses. The address is checked when the
// connection is made, after DNS resolution, so a name that resolves
// (or rebinds) to a private address is refused too.
func WebhookClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !PublicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: dialer.DialContext, Proxy: nil, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// CheckTarget refuses a webhook URL whose host is an address literal (or
// localhost) that is not public; names are checked again at delivery.
func CheckTarget(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Invalid("url", "must be an absolute http or https URL")
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return Unprocessable("url", "loopback targets are not allowed")
	}
	if ip, err := netip.ParseAddr(host); err == nil && !PublicAddr(ip) {
		return Unprocessable("url", "loopback, link-local, private and multicast targets are not allowed")
	}
	return nil
}
