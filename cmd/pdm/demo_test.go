package main

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDemo runs `pdm demo` as make demo does, on a small scenario and with
// no broker at PDM_MQTT_URL, so it must bring up its embedded broker: the
// live line must show the degrading pump's work order, and Ctrl-C (context
// cancellation) must stop everything cleanly.
func TestDemo(t *testing.T) {
	env := newTestEnv(t)
	brokerAddr := freeAddr(t)
	getenv := env.getenv(map[string]string{"PDM_MQTT_URL": "tcp://" + brokerAddr})
	cfg, err := parseConfig("demo", []string{"--http-addr", "127.0.0.1:0", "--scenario", "testdata/demo-small.yaml"}, getenv, io.Discard)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, logs := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- demo(ctx, cfg, out, logs) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo output:\n%s\nlog:\n%s", out.String(), logs.String())
		}
	})

	live := regexp.MustCompile(`signals \d+\+?\s+open work orders [1-9]`)
	eventually(t, 90*time.Second, "a live line with an open work order", func() bool {
		select {
		case err := <-done:
			t.Fatalf("demo ended early: %v", err)
		default:
		}
		return live.MatchString(out.String())
	})
	s := out.String()
	require.Contains(t, s, "running an embedded MQTT broker")
	require.Regexp(t, `admin token: \S{20,}`, s)
	require.True(t, strings.Contains(s, "/api/v1"), "prints the API address")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Ctrl-C stops the demo cleanly")
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of Ctrl-C")
	}
}
