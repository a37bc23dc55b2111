// Package mqtt is the paho MQTT source of the ingest pipeline: a persistent
// session (clean session off, stable client id) subscribed at QoS 1 with
// manual acknowledgement, so the broker redelivers whatever the pipeline has
// not acknowledged after a crash, a disconnect or a broker restart.
//
// Broker settings matter for "nothing lost" and for speed (Mosquitto names):
//   - max_queued_messages: what the broker keeps for a session while ingest
//     is down or InfluxDB is (the default 1000 drops QoS 1 messages beyond
//     it); size it for the longest outage to ride out, or 0 (no limit).
//   - max_inflight_messages: unacknowledged messages per client (default
//     20). Ingest acknowledges after the InfluxDB write, so this window caps
//     the batch size and the throughput; 1000-5000 is a good range. It is
//     not a bound ingest relies on: Mosquitto 2.0.11 overshoots it once
//     acknowledgements lag (55,000 unacknowledged under a window of 5,000);
//     the pipeline's queue holds its own bound by making delivery wait,
//     which stops this source reading the connection (TCP back-pressure).
//   - persistence true, so sessions survive a broker restart.
package mqtt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/ingest"
)

// Config of the source. Zero durations take the defaults.
type Config struct {
	// URL of the broker, e.g. tcp://127.0.0.1:1883 (PDM_MQTT_URL).
	URL string
	// ClientID must be stable per replica and unique among replicas: the
	// broker keeps the session (subscriptions, unacknowledged messages)
	// under it.
	ClientID string
	// Topics to subscribe at QoS 1 (see ingest.Subscriptions).
	Topics             []string
	Username, Password string
	// KeepAlive (default 30s), ConnectTimeout (default 10s) and
	// MaxReconnectInterval (default 10s).
	KeepAlive, ConnectTimeout, MaxReconnectInterval time.Duration
	// RedeliverAfter is how long after the pipeline refused a message (its
	// queue was full) the source reconnects, so that the broker sends
	// again what is unacknowledged (default 1s).
	RedeliverAfter time.Duration
	// Presence, when set, is a topic where the connection keeps a retained
	// "1" while it is up: it publishes it on every connect, and "0" is its
	// will (the broker publishes it when the connection dies) and what
	// Stop publishes. Other replicas learn from it that this session has
	// lost its client (see cmd/pdm's session adoption).
	Presence string
	// Adopted: this is another client's session taken over while that
	// client is away: no automatic reconnect (the client coming back
	// takes its session over, and must keep it); Lost tells when the
	// connection ended.
	Adopted bool
}

// Source is an ingest.Source backed by paho.
type Source struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex // guards client, conn
	client paho.Client
	conn   net.Conn      // the current connection (tcp only)
	refuse chan struct{} // cap 1: the pipeline refused a message
	quit   chan struct{} // closed by Stop
	lost   chan struct{} // closed when an adopted session's connection ends
	once   sync.Once     // closes lost
	// pending counts messages the pipeline took and has not acknowledged
	// yet: a reconnect while some are pending has the broker send them
	// again too, as duplicates that fill the queue and are refused in
	// turn (a redelivery storm: 52,505 refusals draining 100,000
	// messages).
	pending atomic.Int64
}

var _ ingest.Source = (*Source)(nil)

// New returns a source; Start connects it.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if cfg.URL == "" || cfg.ClientID == "" || len(cfg.Topics) == 0 {
		return nil, errors.New("mqtt: URL, ClientID and Topics are required")
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.MaxReconnectInterval <= 0 {
		cfg.MaxReconnectInterval = 10 * time.Second
	}
	if cfg.RedeliverAfter <= 0 {
		cfg.RedeliverAfter = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, log: log, refuse: make(chan struct{}, 1), quit: make(chan struct{}), lost: make(chan struct{})}, nil
}

// Start connects with a persistent session and subscribes; every (re)connect
// subscribes again, so the subscription is live after a broker restart even
// if the broker lost the session. It returns an error when the broker
// cannot be reached within ConnectTimeout or refuses the subscription.
//
// The message handler runs on paho's network loop (acknowledgements go out
// on another goroutine). While the pipeline's queue is full it waits for
// room, and the broker, whose socket is no longer read, is held back by
// TCP; the wait is bounded (ingest.Config.QueueWait, once per stall), so
// keep-alive answers are still read well within paho's ping timeout. A
// message the pipeline refuses (its queue stayed full: the pipeline is
// stuck) stays unacknowledged, and RedeliverAfter later the source drops
// the connection; paho reconnects to the same session and the broker sends
// every unacknowledged message again.
func (s *Source) Start(ctx context.Context, deliver func(ingest.Message) bool) error {
	subscribed := make(chan error, 1)
	handler := func(_ paho.Client, m paho.Message) {
		// Refused while the pipeline stops: left for the next session (no
		// reconnect, which would drop the acknowledgements of the drain).
		s.pending.Add(1)
		var once sync.Once
		ack := func() {
			once.Do(func() { s.pending.Add(-1) })
			m.Ack()
		}
		if !deliver(ingest.Message{Topic: m.Topic(), Payload: m.Payload(), Received: time.Now(), Ack: ack}) {
			s.pending.Add(-1)
			if ctx.Err() == nil {
				select {
				case s.refuse <- struct{}{}:
				default:
				}
			}
		}
	}
	o := paho.NewClientOptions().
		AddBroker(s.cfg.URL).
		SetClientID(s.cfg.ClientID).
		SetUsername(s.cfg.Username).
		SetPassword(s.cfg.Password).
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetAutoReconnect(!s.cfg.Adopted).
		SetConnectRetry(false).
		SetMaxReconnectInterval(s.cfg.MaxReconnectInterval).
		SetKeepAlive(s.cfg.KeepAlive).
		SetConnectTimeout(s.cfg.ConnectTimeout).
		SetWriteTimeout(s.cfg.ConnectTimeout).
		// Messages of the stored session may arrive before SUBACK: the
		// default handler takes them (a route-less message would never be
		// acknowledged).
		SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(c paho.Client) {
			filters := make(map[string]byte, len(s.cfg.Topics))
			for _, t := range s.cfg.Topics {
				filters[t] = 1
			}
			tok := c.SubscribeMultiple(filters, nil)
			var err error
			if !tok.WaitTimeout(s.cfg.ConnectTimeout) {
				err = errors.New("subscribe timed out")
			} else if err = tok.Error(); err == nil {
				if st, ok := tok.(*paho.SubscribeToken); ok {
					for t, q := range st.Result() {
						if q > 2 {
							err = fmt.Errorf("broker refused subscription %q", t)
						}
					}
				}
			}
			if err != nil {
				s.log.Error("mqtt subscribe failed", "err", err)
			} else {
				s.log.Info("mqtt connected and subscribed", "client_id", s.cfg.ClientID, "topics", s.cfg.Topics, "adopted", s.cfg.Adopted)
				if s.cfg.Presence != "" {
					// Not waited for: the network loop must go on.
					c.Publish(s.cfg.Presence, 1, true, "1")
				}
			}
			select {
			case subscribed <- err:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			if s.cfg.Adopted {
				s.log.Info("adopted mqtt session ended (its client took it back, or the broker is gone)", "client_id", s.cfg.ClientID, "err", err)
				s.once.Do(func() { close(s.lost) })
				return
			}
			s.log.Warn("mqtt connection lost, reconnecting", "err", err)
		})
	if s.cfg.Presence != "" {
		o.SetWill(s.cfg.Presence, "0", 1, true)
	}
	if u, err := url.Parse(s.cfg.URL); err == nil && (u.Scheme == "tcp" || u.Scheme == "mqtt") {
		o.SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
			d := net.Dialer{Timeout: o.ConnectTimeout}
			conn, err := d.Dial("tcp", u.Host)
			if err != nil {
				return nil, err
			}
			bc := newBufferedConn(conn)
			s.mu.Lock()
			s.conn = bc
			s.mu.Unlock()
			return bc, nil
		})
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(s.cfg.ConnectTimeout) {
		c.Disconnect(0)
		return fmt.Errorf("mqtt: connect to %s timed out", s.cfg.URL)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: connect to %s: %w", s.cfg.URL, err)
	}
	select {
	case err := <-subscribed:
		if err != nil {
			c.Disconnect(250)
			return fmt.Errorf("mqtt: %w", err)
		}
	case <-ctx.Done():
		c.Disconnect(250)
		return ctx.Err()
	}
	s.mu.Lock()
	s.client = c
	s.mu.Unlock()
	go s.redeliver(ctx, c)
	return nil
}

// redeliver reconnects RedeliverAfter after the pipeline refused a message,
// so that the broker sends the unacknowledged messages again.
func (s *Source) redeliver(ctx context.Context, c paho.Client) {
	for {
		select {
		case <-s.refuse:
		case <-s.quit:
			return
		}
		t := time.NewTimer(s.cfg.RedeliverAfter)
		select {
		case <-t.C:
		case <-s.quit:
			t.Stop()
			return
		}
		// Reconnect once what the pipeline took is acknowledged (or after
		// a bound, if something holds it): the broker then sends again
		// only what was refused, not everything in flight.
		if !s.waitAcknowledged(30 * s.cfg.RedeliverAfter) {
			return
		}
		// Refusals while waiting are covered by this reconnect.
		select {
		case <-s.refuse:
		default:
		}
		if ctx.Err() != nil {
			continue // stopping: the drain's acknowledgements must get out
		}
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		s.log.Info("mqtt: the pipeline refused messages while its queue was full; reconnecting so the broker sends them again")
		if conn != nil {
			// An expired read deadline, not Close: paho takes a read on a
			// closed connection for its own shutdown and only notices the
			// loss when a ping goes unanswered (up to 1.5 keep-alives
			// later); a timed-out read is a lost connection at once.
			_ = conn.SetReadDeadline(time.Now())
		} else {
			c.Disconnect(250)
			if tok := c.Connect(); !tok.WaitTimeout(s.cfg.ConnectTimeout) || tok.Error() != nil {
				s.log.Warn("mqtt: reconnect failed; paho retries", "err", tok.Error())
			}
		}
	}
}

// waitAcknowledged waits until no message the pipeline took is waiting for
// its acknowledgement, or at most max; false when the source stops.
func (s *Source) waitAcknowledged(max time.Duration) bool {
	deadline := time.Now().Add(max)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.pending.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-t.C:
		case <-s.quit:
			return false
		}
	}
	return true
}

// bufferedConn reads through a buffer and coalesces writes.
//
// Reads: paho reads each packet in several small reads (header byte,
// length bytes, body), one system call each without a buffer.
//
// Writes: paho writes each packet with its own call, so acknowledging a
// batch of 5,000 messages costs 5,000 system calls here and 5,000 small
// reads in the broker. Write only queues the bytes; one goroutine sends
// whatever has queued since its last send, so acknowledgements that come
// together leave together, and a lone one leaves at once. A failed send
// makes every later Write fail (paho then reconnects; an acknowledgement
// lost with the connection only means the broker delivers that message
// again). Close sends what is queued (for at most closeFlush) before it
// closes, so Stop's DISCONNECT and the acknowledgements before it reach the
// broker. Queued bytes are bounded: Write waits while maxQueued are queued.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    sync.Cond // signalled when queued bytes are sent or sending fails
	queued  []byte
	spare   []byte
	err     error // sticky: the send that failed
	closing bool
	kick    chan struct{} // cap 1: bytes are queued
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the sender has exited
	once    sync.Once
}

const (
	maxQueued  = 1 << 20
	closeFlush = time.Second
)

func newBufferedConn(conn net.Conn) *bufferedConn {
	c := &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 64<<10),
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	c.cond.L = &c.mu
	go c.send()
	return c
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p for the sender.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for len(c.queued) >= maxQueued && c.err == nil && !c.closing {
		c.cond.Wait()
	}
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	case c.closing:
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.queued = append(c.queued, p...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// send writes queued bytes to the connection until Close.
func (c *bufferedConn) send() {
	defer close(c.done)
	for {
		var stop bool
		select {
		case <-c.kick:
		case <-c.quit:
			stop = true
		}
		c.mu.Lock()
		out := c.queued
		c.queued = c.spare[:0]
		c.mu.Unlock()
		var err error
		if len(out) > 0 {
			_, err = c.Conn.Write(out)
		}
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		if cap(out) <= maxQueued {
			c.spare = out[:0]
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		if err != nil || stop {
			return
		}
	}
}

// Close sends what is queued, for at most closeFlush, and closes the
// connection.
func (c *bufferedConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.cond.Broadcast()
		c.mu.Unlock()
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlush))
		close(c.quit)
		<-c.done
	})
	return c.Conn.Close()
}

// Stop sends pending acknowledgements and disconnects; the broker keeps the
// session and queues messages for the next Start with the same client id.
func (s *Source) Stop() {
	s.mu.Lock()
	c := s.client
	s.client = nil
	if c != nil {
		close(s.quit)
	}
	s.mu.Unlock()
	if c != nil {
		if s.cfg.Presence != "" && c.IsConnectionOpen() {
			// A clean disconnect sends no will: say it here.
			c.Publish(s.cfg.Presence, 1, true, "0").WaitTimeout(time.Second)
		}
		c.Disconnect(500)
	}
}

// Lost is closed when an adopted session's connection has ended (never
// for other sessions, which reconnect).
func (s *Source) Lost() <-chan struct{} { return s.lost }

// Connected reports whether the broker connection is up.
func (s *Source) Connected() bool {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	return c != nil && c.IsConnectionOpen()
}
