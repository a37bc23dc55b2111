package mqttpub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/edge"
)

// GatewayOptions configure DialGateways. URL, Site and Gateways are required.
type GatewayOptions struct {
	URL      string
	Username string
	Password string
	// ClientIDPrefix starts each gateway's client id (the gateway's code
	// follows); default "pdm-sim-gw-".
	ClientIDPrefix string
	// TopicRoot is the contract's topic root (default "pdm/v1").
	TopicRoot string
	Site      string
	Gateways  []string
	// Version is the status's version (default "pdm-sim").
	Version string
	// Every is how often "online" is published again (default 30 s, the
	// edge agent's default status interval).
	Every time.Duration
	// Buffered reports a gateway's readings not yet acknowledged by the
	// broker (nil: 0); Fleet.Buffered does.
	Buffered func(gateway string) int64
	Logger   *slog.Logger
}

// Gateways are the simulated gateways' MQTT sessions, publishing their
// retained status the way the edge agent does (edge.StatusTopic,
// edge.Status): one session per gateway whose last will is its retained
// "offline" status; "online" with the readings buffered (none dropped: the
// fleet sends every message again until acknowledged) on every connect and
// every Every; "offline" when Run's context ends. So the platform's
// Gateways screen shows the demo's gateways live, and offline when pdm-sim
// stops or dies.
type Gateways struct {
	o       GatewayOptions
	clients []paho.Client
}

// DialGateways connects every gateway, each publishing "online" as it
// connects, or returns an error naming the gateway and the broker (nothing
// stays connected then). Run them with Run.
func DialGateways(ctx context.Context, o GatewayOptions) (*Gateways, error) {
	if o.URL == "" || o.Site == "" || len(o.Gateways) == 0 {
		return nil, errors.New("mqttpub: URL, Site and Gateways are required")
	}
	if o.ClientIDPrefix == "" {
		o.ClientIDPrefix = "pdm-sim-gw-"
	}
	if o.TopicRoot == "" {
		o.TopicRoot = "pdm/v1"
	}
	if o.Version == "" {
		o.Version = "pdm-sim"
	}
	if o.Every <= 0 {
		o.Every = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	shown := o.URL
	if u, err := url.Parse(o.URL); err == nil {
		shown = u.Redacted()
	}
	g := &Gateways{o: o, clients: make([]paho.Client, 0, len(o.Gateways))}
	status := g.status
	for _, gw := range o.Gateways {
		topic := edge.StatusTopic(o.TopicRoot, o.Site, gw)
		online := func(c paho.Client) {
			// On every (re)connect, as the agent does after its will may
			// have been published.
			c.Publish(topic, 1, true, status(gw, "online"))
		}
		po := paho.NewClientOptions().
			AddBroker(o.URL).
			SetClientID(o.ClientIDPrefix+gw).
			SetUsername(o.Username).
			SetPassword(o.Password).
			SetCleanSession(true).
			SetAutoReconnect(true).
			SetMaxReconnectInterval(5*time.Second).
			SetConnectTimeout(10*time.Second).
			SetKeepAlive(15*time.Second).
			SetBinaryWill(topic, status(gw, "offline"), 1, true).
			SetOnConnectHandler(online).
			SetConnectionLostHandler(func(_ paho.Client, err error) {
				o.Logger.Warn("gateway status connection lost", "gateway", gw, "broker", shown, "err", err)
			})
		c := paho.NewClient(po)
		tok := c.Connect()
		var err error
		select {
		case <-tok.Done():
			err = tok.Error()
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(11 * time.Second):
			err = errors.New("no answer within 10s")
		}
		if err != nil {
			c.Disconnect(0)
			g.close()
			return nil, fmt.Errorf("gateway %s: mqtt broker %s: %w", gw, shown, err)
		}
		g.clients = append(g.clients, c)
	}
	o.Logger.Info("gateways online", "site", o.Site, "gateways", o.Gateways)
	return g, nil
}

func (g *Gateways) status(gw, state string) []byte {
	var buffered int64
	if g.o.Buffered != nil {
		buffered = g.o.Buffered(gw)
	}
	b, _ := json.Marshal(edge.Status{State: state, TS: time.Now().UTC(), Version: g.o.Version, Buffered: buffered})
	return b
}

func (g *Gateways) close() {
	for _, c := range g.clients {
		c.Disconnect(250)
	}
}

// Run publishes "online" every Every until ctx ends, then "offline" for
// every gateway (a clean stop sends no will) and disconnects.
func (g *Gateways) Run(ctx context.Context) {
	defer g.close()
	o := g.o
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for i, gw := range o.Gateways {
				g.clients[i].Publish(edge.StatusTopic(o.TopicRoot, o.Site, gw), 1, true, g.status(gw, "online"))
			}
		case <-ctx.Done():
			var wg sync.WaitGroup
			for i, gw := range o.Gateways {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok := g.clients[i].Publish(edge.StatusTopic(o.TopicRoot, o.Site, gw), 1, true, g.status(gw, "offline"))
					if !tok.WaitTimeout(2*time.Second) || tok.Error() != nil {
						o.Logger.Warn("offline status not published", "gateway", gw, "err", tok.Error())
					}
				}()
			}
			wg.Wait()
			return
		}
	}
}
