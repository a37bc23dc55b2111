package mqtt

import (
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/partition"
)

// Stream subscribes this replica to the streams of the partitions it owns.
// Its session is persistent (client id ClientID+"-part"), so what is
// streamed while the connection is down waits in the broker; on every
// (re)connect it subscribes the owned partitions again and drops the
// subscriptions of partitions it no longer owns.
type Stream struct {
	cfg     Config
	log     *slog.Logger
	deliver func(p int, payload []byte)
	c       paho.Client

	mu   sync.Mutex // guards subs
	subs map[int]bool
}

var _ partition.Stream = (*Stream)(nil)

// NewStream connects and returns a stream handing messages to deliver.
func NewStream(cfg Config, deliver func(p int, payload []byte), log *slog.Logger) (*Stream, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stream{cfg: cfg, log: log, deliver: deliver, subs: map[int]bool{}}
	handler := func(_ paho.Client, m paho.Message) {
		if p, ok := partition.ParseTopic(cfg.TopicRoot, m.Topic()); ok {
			s.deliver(p, m.Payload())
		}
	}
	o := paho.NewClientOptions().AddBroker(cfg.URL).SetClientID(cfg.ClientID + "-part").
		SetCleanSession(false).SetOrderMatters(true).SetAutoReconnect(true).SetConnectRetry(false).
		SetMaxReconnectInterval(5 * time.Second).SetKeepAlive(15 * time.Second).
		SetConnectTimeout(cfg.Timeout).SetWriteTimeout(cfg.Timeout).
		SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(c paho.Client) { go s.resubscribe(c) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { log.Warn("partition stream lost the broker, reconnecting", "err", err) })
	c, err := connect(o, cfg.Timeout, cfg.URL)
	if err != nil {
		return nil, err
	}
	s.c = c
	return s, nil
}

// resubscribe restores the owned subscriptions and removes stale ones.
func (s *Stream) resubscribe(c paho.Client) {
	s.mu.Lock()
	var stale []string
	filters := map[string]byte{}
	for p := range s.cfg.Partitions {
		if s.subs[p] {
			filters[partition.Topic(s.cfg.TopicRoot, p)] = 1
		} else {
			stale = append(stale, partition.Topic(s.cfg.TopicRoot, p))
		}
	}
	s.mu.Unlock()
	if len(stale) > 0 {
		if err := wait(c.Unsubscribe(stale...), s.cfg.Timeout, "unsubscribe stale partitions"); err != nil {
			s.log.Warn("partition stream", "err", err)
		}
	}
	if len(filters) > 0 {
		if err := wait(c.SubscribeMultiple(filters, nil), s.cfg.Timeout, "resubscribe partitions"); err != nil {
			s.log.Warn("partition stream", "err", err)
		}
	}
}

// Subscribe starts receiving partition p.
func (s *Stream) Subscribe(p int) error {
	s.mu.Lock()
	s.subs[p] = true
	s.mu.Unlock()
	return wait(s.c.Subscribe(partition.Topic(s.cfg.TopicRoot, p), 1, nil), s.cfg.Timeout, "subscribe partition")
}

// Unsubscribe stops receiving partition p.
func (s *Stream) Unsubscribe(p int) error {
	s.mu.Lock()
	delete(s.subs, p)
	s.mu.Unlock()
	return wait(s.c.Unsubscribe(partition.Topic(s.cfg.TopicRoot, p)), s.cfg.Timeout, "unsubscribe partition")
}

// Connected reports whether the broker connection is up.
func (s *Stream) Connected() bool { return s.c.IsConnectionOpen() }

// Close disconnects; the session and its subscriptions stay in the broker.
func (s *Stream) Close() { s.c.Disconnect(250) }
