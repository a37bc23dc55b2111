package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/openpdm/pdm/ingest"
)

// Uplink timings.
const (
	ackTimeout    = 30 * time.Second
	maxPayload    = 200 << 10 // below the contract's 256 KiB
	peekMessages  = 8         // messages' worth of items read per round
	offlineWindow = 2 * time.Second
)

// StatusTopic returns the contract's gateway status topic.
func StatusTopic(root, site, gateway string) string {
	return root + "/" + site + "/gateways/" + gateway + "/status"
}

// ConfigTopic returns the contract's gateway config topic.
func ConfigTopic(root, site, gateway string) string {
	return root + "/" + site + "/gateways/" + gateway + "/config"
}

// runUplink keeps a session with the uplink broker open, reconnecting with
// backoff, until ctx ends.
func (a *Agent) runUplink(ctx context.Context) error {
	seq := a.q.Seq()
	backoff := 250 * time.Millisecond
	for {
		connected := false
		err := a.session(ctx, &seq, &connected)
		a.m.connected.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		a.m.publishErrors.Inc()
		a.log.Warn("uplink session ended", "err", err, "retry_in", backoff)
		if connected {
			backoff = 250 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, max(a.Config().Uplink.MaxReconnect.D(), 250*time.Millisecond))
	}
}

func (a *Agent) clientOptions(cfg Config, lost chan<- error) (*mqtt.ClientOptions, error) {
	o := mqtt.NewClientOptions()
	o.AddBroker(cfg.Uplink.URL)
	id := cfg.Uplink.ClientID
	if id == "" {
		id = "pdm-edge-" + cfg.Gateway
	}
	o.SetClientID(id)
	o.SetUsername(cfg.Uplink.Username)
	o.SetPassword(cfg.Uplink.Password)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetConnectTimeout(5 * time.Second)
	o.SetKeepAlive(15 * time.Second)
	o.SetPingTimeout(5 * time.Second)
	o.SetWriteTimeout(10 * time.Second)
	o.SetOrderMatters(false)
	// The will is fixed at connect time: it says when the session began.
	will := a.Status("offline")
	will.ConfigError = ""
	off := statusJSON(will)
	o.SetBinaryWill(StatusTopic(cfg.TopicRoot, cfg.Site, cfg.Gateway), off, 1, true)
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		select {
		case lost <- err:
		default:
		}
	})
	if cfg.Uplink.TLS.Enabled() {
		tc, err := tlsConfig(cfg.Uplink.TLS)
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	return o, nil
}

func tlsConfig(c TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for test brokers
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("uplink tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("uplink tls ca %s: no certificates", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("uplink tls client cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func wait(ctx context.Context, t mqtt.Token, timeout time.Duration) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		return errors.New("timed out waiting for the broker")
	}
}

// session connects once and forwards the queue until the connection is
// lost (an error) or ctx ends (nil, after publishing the offline status).
func (a *Agent) session(ctx context.Context, seq *uint64, connected *bool) error {
	cfg := a.Config()
	lost := make(chan error, 1)
	opts, err := a.clientOptions(cfg, lost)
	if err != nil {
		return err
	}
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect(), 10*time.Second); err != nil {
		return fmt.Errorf("connect %s: %w", cfg.Uplink.URL, err)
	}
	var once sync.Once
	disconnect := func() { once.Do(func() { c.Disconnect(250) }) }
	defer disconnect()
	a.m.connected.Set(1)
	*connected = true
	a.log.Info("uplink connected", "broker", cfg.Uplink.URL)

	statusTopic := StatusTopic(cfg.TopicRoot, cfg.Site, cfg.Gateway)
	publishStatus := func(ctx context.Context, state string) error {
		return wait(ctx, c.Publish(statusTopic, 1, true, statusJSON(a.Status(state))), ackTimeout)
	}
	if err := publishStatus(ctx, "online"); err != nil {
		return fmt.Errorf("publish status: %w", err)
	}
	cfgTopic := ConfigTopic(cfg.TopicRoot, cfg.Site, cfg.Gateway)
	sub := c.Subscribe(cfgTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
		if len(m.Payload()) == 0 {
			return // a cleared retained config
		}
		p := append([]byte(nil), m.Payload()...)
		for {
			select {
			case a.remoteIn <- p:
				return
			default:
			}
			select { // replace a payload not yet taken: latest wins
			case <-a.remoteIn:
			default:
			}
		}
	})
	if err := wait(ctx, sub, ackTimeout); err != nil {
		return fmt.Errorf("subscribe %s: %w", cfgTopic, err)
	}

	d := drainer{a: a, c: c, seq: seq, boundary: a.q.LastKey(), last: time.Now()}
	statusEvery := time.NewTicker(cfg.Status.D())
	defer statusEvery.Stop()
	for {
		select {
		case err := <-lost:
			return fmt.Errorf("connection lost: %w", err)
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), offlineWindow)
			defer cancel()
			if err := publishStatus(sctx, "offline"); err != nil {
				a.log.Warn("offline status not published", "err", err)
			}
			return nil
		case <-statusEvery.C:
			if err := publishStatus(ctx, "online"); err != nil {
				return fmt.Errorf("publish status: %w", err)
			}
			continue
		case <-a.statusKick:
			if err := publishStatus(ctx, "online"); err != nil {
				return fmt.Errorf("publish status: %w", err)
			}
			continue
		default:
		}
		sent, next, err := d.round(ctx)
		if err != nil {
			return err
		}
		if sent > 0 {
			continue
		}
		var timer <-chan time.Time
		if next > 0 {
			timer = time.After(next)
		}
		select {
		case err := <-lost:
			return fmt.Errorf("connection lost: %w", err)
		case <-ctx.Done():
		case <-a.q.Notify():
		case <-a.drainChange:
		case <-a.statusKick:
			kick(a.statusKick)
		case <-statusEvery.C:
			kick(a.statusKick)
		case <-timer:
		}
	}
}

// drainer sends queued items in rounds according to the drain order.
type drainer struct {
	a        *Agent
	c        mqtt.Client
	seq      *uint64
	boundary uint64    // items up to this key were queued before the session: the backlog
	tokens   float64   // live_first: backlog items that may be sent now
	last     time.Time // live_first: when tokens were last topped up
}

// round sends one round of items and returns how many it sent and, when it
// sent none but a backlog waits for its rate, how long to wait.
func (d *drainer) round(ctx context.Context) (int, time.Duration, error) {
	cfg := d.a.Config()
	batch := cfg.Queue.Batch
	if cfg.Queue.Drain != DrainLiveFirst {
		items, err := d.a.q.Peek(0, batch*peekMessages)
		if err != nil {
			return 0, 0, err
		}
		return len(items), 0, d.send(ctx, cfg, items)
	}
	// live_first: everything queued during the session goes at once, the
	// backlog beside it at BacklogRate items per second.
	live, err := d.a.q.Peek(d.boundary, batch*peekMessages)
	if err != nil {
		return 0, 0, err
	}
	now := time.Now()
	rate := float64(cfg.Queue.BacklogRate)
	d.tokens = min(d.tokens+now.Sub(d.last).Seconds()*rate, float64(batch*peekMessages))
	d.last = now
	var backlog []Item
	var wait time.Duration
	if n := int(d.tokens); n > 0 {
		backlog, err = d.a.q.Peek(0, n)
		if err != nil {
			return 0, 0, err
		}
		for i, it := range backlog {
			if it.Key > d.boundary {
				backlog = backlog[:i]
				break
			}
		}
		d.tokens -= float64(len(backlog))
	} else if first, err := d.a.q.Peek(0, 1); err == nil && len(first) == 1 && first[0].Key <= d.boundary {
		wait = time.Duration((1 - d.tokens) / rate * float64(time.Second))
	}
	items := append(live, backlog...)
	if len(items) == 0 {
		return 0, wait, nil
	}
	return len(items), 0, d.send(ctx, cfg, items)
}

type message struct {
	topic    string
	payload  []byte
	readings []ingest.Reading
	keys     []uint64
}

// send publishes items as contract messages (QoS 1) and deletes each
// message's items once the broker has acknowledged it. Messages of one
// asset keep the items' order.
func (d *drainer) send(ctx context.Context, cfg Config, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	msgs := d.build(cfg, items)
	tokens := make([]mqtt.Token, len(msgs))
	for i, m := range msgs {
		tokens[i] = d.c.Publish(m.topic, 1, false, m.payload)
	}
	var acked []uint64
	var firstErr error
	n := 0
	for i, t := range tokens {
		if err := wait(ctx, t, ackTimeout); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("publish %s: %w", msgs[i].topic, err)
			}
			continue
		}
		acked = append(acked, msgs[i].keys...)
		n++
	}
	if len(acked) > 0 {
		if err := d.a.q.Delete(acked, *d.seq); err != nil {
			return err
		}
		d.a.m.sent.Add(float64(len(acked)))
		d.a.m.messages.Add(float64(n))
	}
	return firstErr
}

// build groups items into messages: readings per asset into batch
// messages of at most cfg.Queue.Batch readings and maxPayload bytes, each
// with the next seq in publish order; each event into its own message.
func (d *drainer) build(cfg Config, items []Item) []message {
	type open struct {
		idx  int // index in msgs
		size int
	}
	var msgs []message
	groups := map[[2]string]*open{}
	for _, it := range items {
		if it.IsEvent {
			e := it.Event
			msgs = append(msgs, message{
				topic:   ingest.EventTopic(cfg.TopicRoot, e.Site, e.Asset),
				payload: eventJSON(e),
				keys:    []uint64{it.Key},
			})
			continue
		}
		r := it.Reading
		k := [2]string{r.Site, r.Asset}
		size := 40
		for _, m := range r.Metrics {
			size += len(m.Name) + 28
		}
		g := groups[k]
		if g != nil && (len(msgs[g.idx].readings) >= cfg.Queue.Batch || g.size+size > maxPayload) {
			g = nil
		}
		if g == nil {
			g = &open{idx: len(msgs)}
			groups[k] = g
			msgs = append(msgs, message{topic: ingest.TelemetryTopic(cfg.TopicRoot, r.Site, r.Asset)})
		}
		msgs[g.idx].readings = append(msgs[g.idx].readings, r)
		msgs[g.idx].keys = append(msgs[g.idx].keys, it.Key)
		g.size += size
	}
	for i := range msgs {
		if msgs[i].readings != nil {
			*d.seq++
			msgs[i].payload = ingest.AppendJSON(nil, cfg.Gateway, *d.seq, msgs[i].readings)
		}
	}
	return msgs
}

// eventJSON encodes the contract's device event payload.
func eventJSON(e Event) []byte {
	b, _ := json.Marshal(struct {
		TS       string `json:"ts"`
		Code     string `json:"code"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
	}{e.TS.UTC().Format(time.RFC3339Nano), e.Code, e.Severity, e.Message}) // strings always encode
	return b
}
