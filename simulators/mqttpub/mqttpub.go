// Package mqttpub is the simulated fleet's MQTT face: a paho client that
// implements simulators.Publisher at QoS 1, with a persistent session so
// messages outstanding when the connection drops are sent again after the
// reconnect.
package mqttpub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/simulators"
)

var _ simulators.Publisher = (*Client)(nil)

// Options configure Dial. URL and ClientID are required.
type Options struct {
	// URL of the broker, e.g. tcp://127.0.0.1:1883.
	URL string
	// ClientID must be unique on the broker; the session is persistent.
	ClientID string
	Username string
	Password string
	// ConnectTimeout bounds the first connection (default 10 s).
	ConnectTimeout time.Duration
	// AckTimeout bounds the wait for one PUBACK before the message is
	// reported failed and sent again by the fleet (default 30 s).
	AckTimeout time.Duration
	Logger     *slog.Logger
}

// Client publishes at QoS 1 through paho.
type Client struct {
	c          paho.Client
	ackTimeout time.Duration
}

// Dial connects to the broker and returns the client, or an error naming
// the broker when it cannot be reached within the connect timeout or ctx.
// After that, paho reconnects by itself.
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.URL == "" || o.ClientID == "" {
		return nil, errors.New("mqttpub: URL and ClientID are required")
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 30 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	shown := o.URL // never print a password from the URL
	if u, err := url.Parse(o.URL); err == nil {
		shown = u.Redacted()
	}
	po := paho.NewClientOptions().
		AddBroker(o.URL).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		// Persistent session: paho resends unacknowledged publishes after
		// a reconnect (with a clean session it drops them).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second).
		SetConnectTimeout(o.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			log.Warn("mqtt connection lost", "broker", shown, "err", err)
		}).
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
			log.Info("mqtt reconnecting", "broker", shown)
		})
	c := paho.NewClient(po)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, fmt.Errorf("mqtt broker %s: %w", shown, ctx.Err())
	case <-time.After(o.ConnectTimeout + time.Second):
		return nil, fmt.Errorf("mqtt broker %s: no answer within %s", shown, o.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mqtt broker %s: %w", shown, err)
	}
	return &Client{c: c, ackTimeout: o.AckTimeout}, nil
}

// Publish sends payload to topic at QoS 1 (not retained). The returned
// function waits for the broker's PUBACK; it returns an error when paho
// reports one, when no PUBACK came within the ack timeout, or ctx's error.
func (c *Client) Publish(topic string, payload []byte) func(ctx context.Context) error {
	tok := c.c.Publish(topic, 1, false, payload)
	return func(ctx context.Context) error {
		t := time.NewTimer(c.ackTimeout)
		defer t.Stop()
		select {
		case <-tok.Done():
			return tok.Error()
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("no PUBACK for %s within %s", topic, c.ackTimeout)
		}
	}
}

// Close disconnects, giving outstanding work up to 250 ms.
func (c *Client) Close() { c.c.Disconnect(250) }
