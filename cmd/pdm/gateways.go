package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/workorders/gateways"
	"github.com/openpdm/pdm/workorders/postgres"
)

// gatewayLink binds the gateways service to the broker: it records every
// gateway's retained status (each API replica subscribes, unshared; the
// store keeps the newest), publishes configs retained, and runs the
// offline check.
type gatewayLink struct {
	svc    *gateways.Service
	client paho.Client
	log    *slog.Logger
	in     chan paho.Message // statuses for the recorder, in arrival order
}

func newGatewayLink(cfg Config, store *postgres.Store, log *slog.Logger) *gatewayLink {
	l := &gatewayLink{log: log, in: make(chan paho.Message, 4096)}
	l.svc = &gateways.Service{Store: store, Publisher: l, TopicRoot: cfg.TopicRoot, OfflineAfter: cfg.GatewayOfflineAfter,
		Now: time.Now, Log: log}
	filter := l.svc.StatusFilter()
	o := paho.NewClientOptions().
		AddBroker(cfg.MQTTURL).
		SetClientID(cfg.ClientID + "-gateways").
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetOrderMatters(true).
		SetOnConnectHandler(func(c paho.Client) {
			// Subscribing again on every connect brings the retained
			// statuses again: what changed while disconnected is caught up.
			c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
				select {
				case l.in <- m:
				default:
					l.log.Warn("gateway status dropped: the recorder is behind", "topic", m.Topic())
				}
			})
		})
	l.client = paho.NewClient(o)
	return l
}

// service returns the gateways service (nil without a link).
func (l *gatewayLink) service() *gateways.Service {
	if l == nil {
		return nil
	}
	return l.svc
}

// PublishRetained implements gateways.Publisher.
func (l *gatewayLink) PublishRetained(ctx context.Context, topic string, payload []byte) error {
	if !l.client.IsConnectionOpen() {
		return errors.New("not connected to the MQTT broker")
	}
	t := l.client.Publish(topic, 1, true, payload)
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return errors.New("the MQTT broker did not acknowledge within 10s")
	}
}

// Run connects (retrying in the background while the broker is away),
// records statuses and checks for offline gateways until ctx ends.
func (l *gatewayLink) Run(ctx context.Context) error {
	l.client.Connect() // with ConnectRetry it keeps trying; no need to wait
	defer l.client.Disconnect(250)
	every := min(max(l.svc.OfflineAfter/4, 250*time.Millisecond), 30*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-l.in:
			if err := l.svc.RecordStatus(ctx, m.Topic(), m.Payload()); err != nil && ctx.Err() == nil {
				l.log.Warn("gateway status not recorded", "topic", m.Topic(), "err", err)
			}
		case <-tick.C:
			if err := l.svc.CheckOffline(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("gateway offline check failed", "err", fmt.Errorf("check: %w", err))
			}
		}
	}
}
