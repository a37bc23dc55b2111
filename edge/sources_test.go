package edge

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
	"github.com/simonvetter/modbus"
	"github.com/stretchr/testify/require"
)

// TestMQTTSourceForwardsInOrder publishes device JSON to a local broker
// and checks that every valid reading is forwarded once, in order, and bad
// payloads are counted. The local broker is a private Mosquitto without an
// in-flight limit: with one (default 20) Mosquitto 2.0 may deliver QoS 1
// messages out of order to a subscriber that acknowledges slowly, and the
// agent acknowledges only after its fsync.
func TestMQTTSourceForwardsInOrder(t *testing.T) {
	broker := mqttURL(t)
	local := startPrivateBroker(t, "max_inflight_messages 0\nmax_queued_messages 0\n")
	root := testRoot()
	droot := "devices"
	ch, sub := subscribe(t, broker, root+"/+/+/telemetry")
	_, dev := subscribe(t, local, "nothing")
	cfg := testConfig(t, broker, root)
	cfg.Sources.MQTT = []MQTTSource{{Name: "local", URL: local, ClientID: "edge-src-" + strings.Split(root, "/")[1], Topics: []TopicAsset{
		{Topic: droot + "/press-1/data", Asset: "press-1"},
		{Topic: droot + "/fan/+", Asset: "fan-1"},
	}}}
	require.NoError(t, cfg.Validate())
	t.Cleanup(func() { publish(t, sub, StatusTopic(root, cfg.Site, cfg.Gateway), true, nil) })
	a, _, stop := startAgent(t, cfg)
	defer stop()

	// The source subscribes asynchronously: publish probes until one arrives.
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	waitForward := time.Now().Add(10 * time.Second)
	for probe := 0; ; probe++ {
		publish(t, dev, droot+"/fan/x", false, []byte(fmt.Sprintf(`{"ts":%d,"rpm":%d}`, base.UnixMilli()+int64(probe), probe)))
		select {
		case m := <-ch:
			require.Contains(t, m.topic, "/fan-1/telemetry")
		case <-time.After(200 * time.Millisecond):
			require.True(t, time.Now().Before(waitForward), "local MQTT source never forwarded")
			continue
		}
		break
	}

	const n = 300
	for i := range n {
		p := fmt.Sprintf(`{"ts":%d,"metrics":{"pressure_bar":%d}}`, base.UnixMilli()+int64(i), i)
		if i == 100 {
			publish(t, dev, droot+"/press-1/data", false, []byte(`{"metrics":{"Bad":1}}`))
		}
		publish(t, dev, droot+"/press-1/data", false, []byte(p))
	}
	var got []int64
	deadline := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case m := <-ch:
			if !strings.Contains(m.topic, "/press-1/") {
				continue
			}
			var b batchMsg
			require.NoError(t, json.Unmarshal(m.payload, &b))
			for _, r := range b.Readings {
				require.Equal(t, float64(r.TS-base.UnixMilli()), r.Metrics["pressure_bar"])
				got = append(got, r.TS)
			}
		case <-deadline:
			t.Fatalf("got %d of %d readings", len(got), n)
		}
	}
	for i := range got {
		if base.UnixMilli()+int64(i) != got[i] {
			rel := make([]int64, len(got))
			for j := range got {
				rel[j] = got[j] - base.UnixMilli()
			}
			t.Fatalf("reading %d out of order: %v", i, rel)
		}
	}
	require.Eventually(t, func() bool {
		return testutilCounter(t, a, "pdm_edge_source_errors_total") >= 1
	}, 5*time.Second, 20*time.Millisecond, "bad payload counted")
}

// regServer is a Modbus handler serving fixed holding registers.
type regServer struct {
	mu    sync.Mutex // guards words
	words map[uint16]uint16
}

func (s *regServer) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (s *regServer) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (s *regServer) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint16, req.Quantity)
	for i := range out {
		out[i] = s.words[req.Addr+uint16(i)]
	}
	return out, nil
}

func (s *regServer) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return s.HandleHoldingRegisters(&modbus.HoldingRegistersRequest{Addr: req.Addr, Quantity: req.Quantity})
}

func (s *regServer) set(addr uint16, w ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range w {
		s.words[addr+uint16(i)] = x
	}
}

// TestModbusSourceDecodesAndAlarms polls a real Modbus TCP server and checks
// the decoded, scaled values and the device event of a local alarm.
func TestModbusSourceDecodesAndAlarms(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	regs := &regServer{words: map[uint16]uint16{}}
	f := math.Float32bits(2.5)
	regs.set(0, uint16(f>>16), uint16(f)) // float32 high word first
	regs.set(2, 650)                      // int16: 650*0.1-40 = 25
	regs.set(3, 2, 1)                     // uint32 low word first: 65538
	srv, err := modbus.NewServer(&modbus.ServerConfiguration{URL: "tcp://" + addr, MaxClients: 4}, regs)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Stop() })

	broker := mqttURL(t)
	root := testRoot()
	ch, sub := subscribe(t, broker, root+"/#")
	cfg := testConfig(t, broker, root)
	limit := 5.0
	cfg.Sources.Modbus = []ModbusDevice{{Name: "plc", URL: "tcp://" + addr, UnitID: 1, PollInterval: rules.Duration(50 * time.Millisecond),
		Registers: []ModbusRegister{
			{Address: 0, Type: TypeFloat32, Metric: "vibration_rms", Asset: "pump-1"},
			{Address: 2, Type: TypeInt16, Scale: ptr(0.1), Offset: -40, Metric: "bearing_temp_c", Asset: "pump-1"},
			{Address: 3, Type: TypeUint32, WordOrder: LowWordFirst, Metric: "running_hours", Asset: "pump-2"},
		}}}
	cfg.Rules.Alarms = []Alarm{{Metric: "vibration_rms", Above: &limit, Code: "E_VIB", Severity: "critical"}}
	cfg.Normalize()
	require.NoError(t, cfg.Validate())
	t.Cleanup(func() { publish(t, sub, StatusTopic(root, cfg.Site, cfg.Gateway), true, nil) })
	a, _, stop := startAgent(t, cfg)
	defer stop()

	seen := map[string]float64{}
	deadline := time.After(10 * time.Second)
	for len(seen) < 3 {
		select {
		case m := <-ch:
			if !strings.HasSuffix(m.topic, "/telemetry") {
				continue
			}
			var b batchMsg
			require.NoError(t, json.Unmarshal(m.payload, &b))
			for _, r := range b.Readings {
				for k, v := range r.Metrics {
					seen[k] = v
				}
			}
		case <-deadline:
			t.Fatalf("got %v", seen)
		}
	}
	require.InDelta(t, 2.5, seen["vibration_rms"], 1e-9)
	require.InDelta(t, 25, seen["bearing_temp_c"], 1e-9)
	require.Equal(t, 65538.0, seen["running_hours"])

	// The vibration crosses the local alarm limit: a critical device event.
	f = math.Float32bits(7.5)
	regs.set(0, uint16(f>>16), uint16(f))
	deadline = time.After(10 * time.Second)
event:
	for {
		select {
		case m := <-ch:
			if !strings.HasSuffix(m.topic, "/pump-1/event") {
				continue
			}
			var e struct {
				TS       string `json:"ts"`
				Code     string `json:"code"`
				Severity string `json:"severity"`
				Message  string `json:"message"`
			}
			require.NoError(t, json.Unmarshal(m.payload, &e))
			_, err := ingest.DecodeEvent(cfg.Site, "pump-1", m.payload, time.Now())
			require.NoError(t, err, "the platform's decoder accepts the event")
			require.Equal(t, "E_VIB", e.Code)
			require.Equal(t, "critical", e.Severity)
			_, err = time.Parse(time.RFC3339Nano, e.TS)
			require.NoError(t, err)
			break event
		case <-deadline:
			t.Fatal("no device event for the alarm")
		}
	}

	// The device drops off the network: polls fail and are counted; when
	// it is back, readings flow again.
	require.NoError(t, srv.Stop())
	before := testutilCounter(t, a, "pdm_edge_source_errors_total")
	require.Eventually(t, func() bool { return testutilCounter(t, a, "pdm_edge_source_errors_total") >= before+2 },
		10*time.Second, 10*time.Millisecond, "failed polls counted")
	srv2, err := modbus.NewServer(&modbus.ServerConfiguration{URL: "tcp://" + addr, MaxClients: 4}, regs)
	require.NoError(t, err)
	require.NoError(t, srv2.Start())
	t.Cleanup(func() { srv2.Stop() })
	back := time.Now().UnixMilli()
	deadline = time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			if !strings.HasSuffix(m.topic, "/pump-2/telemetry") {
				continue
			}
			var b batchMsg
			require.NoError(t, json.Unmarshal(m.payload, &b))
			if b.Readings[len(b.Readings)-1].TS >= back {
				return
			}
		case <-deadline:
			t.Fatal("no readings after the device came back")
		}
	}
}

// testutilCounter sums a metric family of the agent's registry.
func testutilCounter(t *testing.T, a *Agent, name string) float64 {
	t.Helper()
	fams, err := a.m.reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
