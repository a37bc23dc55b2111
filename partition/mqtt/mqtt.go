// Package mqtt carries partition streams over the MQTT broker: a Publisher
// that republishes stored readings to their partition's topic before
// ingest acknowledges them, and a Stream that subscribes a replica to the
// partitions it owns with a persistent session.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/partition"
)

// Config names the broker and the streams.
type Config struct {
	URL        string
	ClientID   string // stable per replica; the stream's session lives under it
	TopicRoot  string
	Partitions int
	// Timeout bounds connecting, one publish and one (un)subscribe
	// (default 10s).
	Timeout time.Duration
}

func (c *Config) check() error {
	if c.URL == "" || c.ClientID == "" || c.TopicRoot == "" || c.Partitions <= 0 {
		return errors.New("partition/mqtt: URL, ClientID, TopicRoot and Partitions are required")
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	return nil
}

func connect(o *paho.ClientOptions, timeout time.Duration, url string) (paho.Client, error) {
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(timeout) {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect to %s timed out", url)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return c, nil
}

func wait(tok paho.Token, timeout time.Duration, what string) error {
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("%s timed out", what)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Publisher is an ingest.Writer: it writes through to the store and then
// publishes the readings, grouped by partition, to the partition streams
// at QoS 1. It returns only when the broker has accepted them, so ingest
// acknowledges a message only when its readings are stored and on their
// way to their owner. Concurrent writes publish in the order they were
// called, so one process never reorders an asset's readings.
type Publisher struct {
	cfg  Config
	next ingest.Writer
	log  *slog.Logger
	c    paho.Client

	mu      sync.Mutex // guards ticket, turn
	ticket  uint64
	turn    uint64
	changed *sync.Cond
}

var _ ingest.Writer = (*Publisher)(nil)

// NewPublisher connects to the broker (client id ClientID+"-pub", clean
// session) and returns a publisher writing through next.
func NewPublisher(cfg Config, next ingest.Writer, log *slog.Logger) (*Publisher, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := paho.NewClientOptions().AddBroker(cfg.URL).SetClientID(cfg.ClientID + "-pub").
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(false).
		SetMaxReconnectInterval(5 * time.Second).SetConnectTimeout(cfg.Timeout).SetWriteTimeout(cfg.Timeout).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			log.Warn("partition publisher lost the broker, reconnecting", "err", err)
		})
	c, err := connect(o, cfg.Timeout, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("partition publisher: %w", err)
	}
	p := &Publisher{cfg: cfg, next: next, log: log, c: c}
	p.changed = sync.NewCond(&p.mu)
	return p, nil
}

// Close disconnects.
func (p *Publisher) Close() { p.c.Disconnect(250) }

// Ping reports whether the store answers (ingest's readiness).
func (p *Publisher) Ping(ctx context.Context) error {
	if pg, ok := p.next.(ingest.Pinger); ok {
		if err := pg.Ping(ctx); err != nil {
			return err
		}
	}
	if !p.c.IsConnectionOpen() {
		return errors.New("partition publisher: broker not connected")
	}
	return nil
}

// Write stores readings through the next writer, then streams them.
func (p *Publisher) Write(ctx context.Context, rs []ingest.Reading) error {
	p.mu.Lock()
	mine := p.ticket
	p.ticket++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		for p.turn != mine { // a later write may not pass an earlier one's turn
			p.changed.Wait()
		}
		p.turn++
		p.changed.Broadcast()
		p.mu.Unlock()
	}()
	if err := p.next.Write(ctx, rs); err != nil {
		return err
	}
	groups := make(map[int][]ingest.Reading)
	for i := range rs {
		k := partition.Of(rs[i].Site, rs[i].Asset, p.cfg.Partitions)
		groups[k] = append(groups[k], rs[i])
	}
	// Wait for the earlier writes to publish first.
	p.mu.Lock()
	for p.turn != mine {
		p.changed.Wait()
	}
	p.mu.Unlock()
	toks := make([]paho.Token, 0, len(groups))
	for k, g := range groups {
		toks = append(toks, p.c.Publish(partition.Topic(p.cfg.TopicRoot, k), 1, false, partition.Encode(nil, g)))
	}
	for _, tok := range toks {
		if err := wait(tok, p.cfg.Timeout, "partition publish"); err != nil {
			return err
		}
	}
	return nil
}
