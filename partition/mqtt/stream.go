package mqtt

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/partition"
)

// Stream connects this replica to the streams of the partitions it owns.
// Each partition has its own persistent session in the broker (client id
// SessionPrefix + "-p" + n), which belongs to the partition, not to a
// replica: what is streamed while no replica owns the partition (its
// owner died, the lease has not moved yet) waits in that session, and the
// next owner resumes it. Messages are acknowledged only once evaluated
// (the ack func given to deliver), so a message whose owner died before
// evaluating it goes to the next owner. The broker enforces that a session
// has one connection: a replica that still thinks it owns a partition
// cannot steal it back unnoticed, and the lease manager stops owners that
// cannot renew their leases.
type Stream struct {
	cfg     Config
	prefix  string
	log     *slog.Logger
	deliver func(p int, payload []byte, ack func())

	mu      sync.Mutex // guards clients
	clients map[int]paho.Client
}

var _ partition.Stream = (*Stream)(nil)

// NewStream returns a stream handing messages to deliver; sessionPrefix
// names the deployment's partition sessions (the same on every replica).
func NewStream(cfg Config, sessionPrefix string, deliver func(p int, payload []byte, ack func()), log *slog.Logger) (*Stream, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if sessionPrefix == "" {
		return nil, fmt.Errorf("partition/mqtt: a session prefix is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stream{cfg: cfg, prefix: sessionPrefix, log: log, deliver: deliver, clients: map[int]paho.Client{}}, nil
}

// Subscribe connects partition p's session and subscribes its topic; the
// messages the session kept arrive first.
func (s *Stream) Subscribe(p int) error {
	topic := partition.Topic(s.cfg.TopicRoot, p)
	handler := func(_ paho.Client, m paho.Message) {
		if mp, ok := partition.ParseTopic(s.cfg.TopicRoot, m.Topic()); ok && mp == p {
			s.deliver(p, m.Payload(), m.Ack)
			return
		}
		m.Ack()
	}
	subscribed := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker(s.cfg.URL).SetClientID(s.prefix + "-p" + strconv.Itoa(p)).
		SetCleanSession(false).SetAutoAckDisabled(true).SetOrderMatters(true).
		SetAutoReconnect(true).SetConnectRetry(false).SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(15 * time.Second).SetConnectTimeout(s.cfg.Timeout).SetWriteTimeout(s.cfg.Timeout).
		SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(c paho.Client) {
			go func() {
				err := wait(c.Subscribe(topic, 1, nil), s.cfg.Timeout, "subscribe "+topic)
				if err != nil {
					s.log.Warn("partition stream", "partition", p, "err", err)
				}
				select {
				case subscribed <- err:
				default:
				}
			}()
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.log.Warn("partition stream lost the broker, reconnecting", "partition", p, "err", err)
		})
	c, err := connect(o, s.cfg.Timeout, s.cfg.URL)
	if err != nil {
		return err
	}
	select {
	case err = <-subscribed:
	case <-time.After(s.cfg.Timeout):
		err = fmt.Errorf("subscribe %s timed out", topic)
	}
	if err != nil {
		c.Disconnect(0)
		return err
	}
	s.mu.Lock()
	if old := s.clients[p]; old != nil {
		old.Disconnect(0)
	}
	s.clients[p] = c
	s.mu.Unlock()
	return nil
}

// Unsubscribe disconnects partition p's session; the broker keeps it (and
// queues the stream) for the next owner.
func (s *Stream) Unsubscribe(p int) error {
	s.mu.Lock()
	c := s.clients[p]
	delete(s.clients, p)
	s.mu.Unlock()
	if c != nil {
		c.Disconnect(250)
	}
	return nil
}

// Close disconnects every session.
func (s *Stream) Close() {
	s.mu.Lock()
	cs := s.clients
	s.clients = map[int]paho.Client{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Disconnect(250)
		}()
	}
	wg.Wait()
}
