package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openpdm/pdm/simulators"
	simmodbus "github.com/openpdm/pdm/simulators/modbus"
)

// modbusUsage describes the modbus command (run wires it as
// `pdm-sim modbus`).
const modbusUsage = `pdm-sim modbus: serve a scenario's assets as a Modbus TCP device

Every metric of asset i is a float32 register pair (high word first) at
address i*stride + 2*j, j the metric's index in its type. Simulated time
runs from the scenario's start at its acceleration (1x when unset).
--edge-config writes a pdm-edge config that polls this device.
`

type modbusConfig struct {
	Scenario   string
	Addr       string
	UnitID     uint
	Stride     uint
	EdgeConfig string
	MQTTURL    string
	TopicRoot  string
	Poll       time.Duration
	LogLevel   string
}

func parseModbus(args []string, getenv func(string) string, stderr io.Writer) (modbusConfig, error) {
	var c modbusConfig
	fs := flag.NewFlagSet("pdm-sim modbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, modbusUsage); fs.PrintDefaults() }
	fs.StringVar(&c.Scenario, "scenario", "", "scenario YAML file, or a built-in name (demo, eval)")
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:5020", "listen address of the Modbus TCP server")
	fs.UintVar(&c.UnitID, "unit-id", 1, "unit id the device answers (0: any)")
	fs.UintVar(&c.Stride, "stride", 100, "register addresses per asset")
	fs.StringVar(&c.EdgeConfig, "edge-config", "", "write a pdm-edge config (YAML) polling this device here")
	fs.StringVar(&c.MQTTURL, "mqtt-url", envOr(getenv, "PDM_MQTT_URL", "tcp://127.0.0.1:1883"), "uplink broker for --edge-config (PDM_MQTT_URL)")
	fs.StringVar(&c.TopicRoot, "mqtt-topic-root", envOr(getenv, "PDM_MQTT_TOPIC_ROOT", "pdm/v1"), "topic root for --edge-config (PDM_MQTT_TOPIC_ROOT)")
	fs.DurationVar(&c.Poll, "poll", time.Second, "poll interval for --edge-config")
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "PDM_LOG_LEVEL", "info"), "debug, info, warn or error (PDM_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Scenario == "" {
		return c, errors.New("--scenario is required (a YAML file, or demo or eval)")
	}
	if c.UnitID > 247 {
		return c, fmt.Errorf("--unit-id %d: want 0..247", c.UnitID)
	}
	if c.Stride < 2 || c.Stride > 65535 {
		return c, fmt.Errorf("--stride %d: want 2..65535", c.Stride)
	}
	return c, nil
}

// runModbus serves a scenario's assets over Modbus TCP until ctx ends.
func runModbus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseModbus(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, c.LogLevel)
	if err != nil {
		return err
	}
	wallStart := time.Now()
	s, err := simulators.LoadScenario(c.Scenario, wallStart)
	if err != nil {
		return err
	}
	for i, m := range s.Assets {
		if need := 2 * len(m.Type().Metrics); uint(need) > c.Stride {
			return fmt.Errorf("asset %s has %d metrics: --stride must be at least %d", m.Code(), need/2, need)
		}
		if uint(i+1)*c.Stride > 65536 {
			return fmt.Errorf("%d assets do not fit in 65536 registers with --stride %d", len(s.Assets), c.Stride)
		}
	}
	accel := s.Acceleration
	if accel <= 0 {
		accel = 1
	}
	simNow := func() time.Time {
		return s.Start.Add(time.Duration(float64(time.Since(wallStart)) * accel))
	}
	regs := simmodbus.Layout(s.Assets, uint16(c.Stride))
	dev, err := simmodbus.Start(simmodbus.Config{Addr: c.Addr, UnitID: uint8(c.UnitID), Models: s.Assets,
		Registers: regs, Now: simNow, Logger: log})
	if err != nil {
		return err
	}
	defer dev.Close()
	if c.EdgeConfig != "" {
		// Written whole or not at all (a temporary file renamed into
		// place): the device already answers, so a reader may look for the
		// file at any moment and must never see half of it.
		if err := writeFileAtomic(c.EdgeConfig, []byte(edgeConfigYAML(c, s.Site, dev.URL(), regs))); err != nil {
			return fmt.Errorf("write edge config: %w", err)
		}
	}
	fmt.Fprintf(stdout, "pdm-sim: scenario %s, %d assets, %d registers, Modbus TCP on %s (unit %d), %gx from %s\n",
		s.Name, len(s.Assets), len(regs), dev.URL(), c.UnitID, accel, s.Start.Format(time.RFC3339))
	<-ctx.Done()
	fmt.Fprintf(stdout, "pdm-sim: served %d register reads\n", dev.Reads())
	return nil
}

// edgeConfigYAML is a pdm-edge config that polls the simulated device.
func edgeConfigYAML(c modbusConfig, site, url string, regs []simmodbus.Register) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# pdm-edge config polling the simulated Modbus device of pdm-sim.\n")
	fmt.Fprintf(&b, "gateway: gw-sim\nsite: %s\ntopic_root: %s\n", site, c.TopicRoot)
	fmt.Fprintf(&b, "uplink:\n  url: %s\nqueue:\n  path: pdm-edge-queue.db\n", c.MQTTURL)
	fmt.Fprintf(&b, "sources:\n  modbus:\n    - name: pdm-sim\n      url: %s\n      unit_id: %d\n      poll_interval: %s\n      registers:\n",
		url, max(c.UnitID, 1), c.Poll)
	for _, r := range regs {
		fmt.Fprintf(&b, "        - {address: %d, type: %s, word_order: %s, metric: %s, asset: %s}\n",
			r.Address, r.Type, r.WordOrder, r.Metric, r.Asset)
	}
	return b.String()
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // gone after the rename; cleans up on failure
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
