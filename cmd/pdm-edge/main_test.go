package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
)

// TestReloadOnSIGHUPAndLastWill runs pdm-edge as a process against the
// shared Mosquitto: a bad config file on SIGHUP is rejected (reported in
// the status, old config kept), a good one applied, and after SIGKILL the
// broker publishes the agent's last will (offline).
func TestReloadOnSIGHUPAndLastWill(t *testing.T) {
	t.Parallel()
	brokerURL := sharedMQTT(t)
	root := "test/" + randID() + "/pdm/v1"
	rec := startRecorder(t, brokerURL, root)
	t.Cleanup(func() { clearRetained(t, brokerURL, root+"/site-h/gateways/gw-h/status") })
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edge.yaml")
	good := fmt.Sprintf("gateway: gw-h\nsite: site-h\ntopic_root: %s\nstatus_interval: 200ms\nuplink:\n  url: %s\n  client_id: edge-h-%s\nqueue:\n  path: %s\n",
		root, brokerURL, randID(), filepath.Join(dir, "q.db"))
	require.NoError(t, os.WriteFile(cfgPath, []byte(good), 0o600))
	a := startAgentProc(t, buildAgent(t), cfgPath, servicetest.FreePort(t))
	waitFor(t, 10*time.Second, "online status", func() bool { return rec.lastStatus().State == "online" })

	require.NoError(t, os.WriteFile(cfgPath, []byte(good+"rules:\n  deadband:\n    - {metric: Bad, band: 1}\n"), 0o600))
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 10*time.Second, "status with the config error", func() bool {
		s := rec.lastStatus()
		return s.State == "online" && bytes.Contains([]byte(s.ConfigError), []byte("Bad"))
	})
	rejected, err := a.metric("pdm_edge_config_rejected_total")
	require.NoError(t, err)
	require.Equal(t, 1.0, rejected)

	require.NoError(t, os.WriteFile(cfgPath, []byte(good+"rules:\n  deadband:\n    - {metric: vibration_rms, band: 0.1}\n"), 0o600))
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 10*time.Second, "status without the config error", func() bool {
		s := rec.lastStatus()
		return s.State == "online" && s.ConfigError == ""
	})
	applied, err := a.metric("pdm_edge_config_applied_total")
	require.NoError(t, err)
	require.GreaterOrEqual(t, applied, 1.0)

	a.kill(t)
	waitFor(t, 30*time.Second, "the last will (offline status)", func() bool { return rec.lastStatus().State == "offline" })
}

// TestRunRejectsBadStart checks the one-line reasons for a bad start.
func TestRunRejectsBadStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("gateway: gw 1\n"), 0o600))
	var out bytes.Buffer
	for _, args := range [][]string{
		{"-config", filepath.Join(dir, "missing.yaml")},
		{"-config", bad},
		{"-nope"},
	} {
		err := run(context.Background(), args, func(string) string { return "" }, &out, nil)
		require.Error(t, err, "%v", args)
	}
}

// TestExampleConfigParses keeps example.yaml valid.
func TestExampleConfigParses(t *testing.T) {
	cfg, err := loadConfig(settings{configPath: "example.yaml"})
	require.NoError(t, err)
	require.Equal(t, "gw-7", cfg.Gateway)
	require.Len(t, cfg.Sources.Modbus[0].Registers, 3)
}
