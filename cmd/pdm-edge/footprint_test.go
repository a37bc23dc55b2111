package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpdm/pdm/simulators"
	simmodbus "github.com/openpdm/pdm/simulators/modbus"
)

// BenchmarkFootprint runs the release build of pdm-edge (CGO off, -trimpath,
// -s -w) polling 100 metrics at 1 Hz from a simulated Modbus device and
// forwarding them to the shared Mosquitto, and reports the binary size and
// the resident memory (VmRSS at the end, VmHWM peak). Run it once:
//
//	go test -run '^$' -bench Footprint -benchtime 1x ./cmd/pdm-edge
//
// PDM_EDGE_FOOTPRINT_SECONDS sets how long the agent runs (default 30).
func BenchmarkFootprint(b *testing.B) {
	brokerURL := sharedMQTT(b)
	var err error
	secs := 30
	if s := os.Getenv("PDM_EDGE_FOOTPRINT_SECONDS"); s != "" {
		if secs, err = strconv.Atoi(s); err != nil {
			b.Fatalf("PDM_EDGE_FOOTPRINT_SECONDS: %v", err)
		}
	}

	dir := b.TempDir()
	bin := filepath.Join(dir, "pdm-edge")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}

	// 17 pumps of 6 metrics; the first 100 registers are polled.
	start := time.Now().Add(-time.Hour)
	var models []*simulators.Model
	for i := range 17 {
		m, err := simulators.NewModel(3, simulators.AssetSpec{Code: fmt.Sprintf("pump-%02d", i), Type: simulators.BuiltinTypes()["pump"], Start: start})
		if err != nil {
			b.Fatal(err)
		}
		models = append(models, m)
	}
	regs := simmodbus.Layout(models, 12)[:100]
	dev, err := simmodbus.Start(simmodbus.Config{Addr: "127.0.0.1:0", UnitID: 1, Models: models, Registers: regs})
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()

	root := "test/" + randID() + "/pdm/v1"
	var sb strings.Builder
	fmt.Fprintf(&sb, "gateway: gw-footprint\nsite: bench\ntopic_root: %s\nuplink:\n  url: %s\n  client_id: edge-fp-%s\n", root, brokerURL, randID())
	fmt.Fprintf(&sb, "queue:\n  path: %s\nsources:\n  modbus:\n    - name: sim\n      url: %s\n      poll_interval: 1s\n      registers:\n",
		filepath.Join(dir, "q.db"), dev.URL())
	for _, r := range regs {
		fmt.Fprintf(&sb, "        - {address: %d, type: float32, metric: %s, asset: %s}\n", r.Address, r.Metric, r.Asset)
	}
	cfg := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(cfg, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}

	for b.Loop() {
		cmd := exec.Command(bin, "-config", cfg, "-log-level", "warn", "-metrics-addr", "127.0.0.1:0")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Duration(secs) * time.Second)
		rss, hwm := procMem(b, cmd.Process.Pid)
		reads := dev.Reads()
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("pdm-edge exited with %v", err)
		}
		clearRetained(b, brokerURL, root+"/bench/gateways/gw-footprint/status")
		b.ReportMetric(float64(st.Size())/(1<<20), "MB-binary")
		b.ReportMetric(rss/1024, "MB-rss")
		b.ReportMetric(hwm/1024, "MB-rss-peak")
		b.ReportMetric(float64(reads), "modbus-reads")
	}
}

// procMem returns VmRSS and VmHWM of a process in KiB.
func procMem(b *testing.B, pid int) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseFloat(f[1], 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return rss, hwm
}
