package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpdm/pdm/edge"
	"github.com/simonvetter/modbus"
	"github.com/stretchr/testify/require"
)

func TestRunModbusServesScenario(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	cfgPath := filepath.Join(t.TempDir(), "edge.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runModbus(ctx, []string{"--scenario", "demo", "--addr", addr, "--edge-config", cfgPath, "--poll", "2s"},
			func(string) string { return "" }, &out, &errOut)
	}()

	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + addr, Timeout: time.Second})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.Open() == nil }, 10*time.Second, 20*time.Millisecond, "device listening")
	defer c.Close()
	v, err := c.ReadFloat32(0, modbus.HOLDING_REGISTER)
	require.NoError(t, err)
	require.False(t, math.IsNaN(float64(v)) || v == 0, "first metric of the first asset: got %v", v)

	// The written edge config is valid and polls this device. The device
	// answers before the file is written (it needs the device's address),
	// so wait for the file to appear; it appears whole.
	require.Eventually(t, func() bool { _, err := os.Stat(cfgPath); return err == nil }, 10*time.Second, 20*time.Millisecond, "edge config written")
	cfg, err := edge.LoadConfigFile(cfgPath)
	require.NoError(t, err)
	require.Len(t, cfg.Sources.Modbus, 1)
	require.Equal(t, "tcp://"+addr, cfg.Sources.Modbus[0].URL)
	require.Equal(t, 2*time.Second, cfg.Sources.Modbus[0].PollInterval.D())
	require.NotEmpty(t, cfg.Sources.Modbus[0].Registers)

	cancel()
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "Modbus TCP on tcp://"+addr)
}

func TestParseModbusRejects(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--scenario", "demo", "--unit-id", "300"},
		{"--scenario", "demo", "--stride", "1"},
		{"--scenario", "demo", "extra"},
	} {
		_, err := parseModbus(args, func(string) string { return "" }, &bytes.Buffer{})
		require.Error(t, err, fmt.Sprint(args))
	}
}
