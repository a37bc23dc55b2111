package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// brokerAnswers reports whether something accepts TCP connections at the
// MQTT URL's host and port.
func brokerAnswers(ctx context.Context, mqttURL string) (string, bool) {
	u, err := url.Parse(mqttURL)
	if err != nil || u.Host == "" {
		return "", false
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1883")
	}
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return host, false
	}
	conn.Close()
	return host, true
}

// startEmbeddedBroker runs an in-process MQTT broker (mochi-mqtt) on addr,
// for the demo on machines without Mosquitto. The returned func stops it.
func startEmbeddedBroker(addr string, log *slog.Logger) (func(), error) {
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: log.With("component", "embedded-broker")})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		if err != nil {
			return nil, fmt.Errorf("embedded broker on %s: %w", addr, err)
		}
	case <-time.After(100 * time.Millisecond):
	}
	return func() { _ = srv.Close() }, nil
}
