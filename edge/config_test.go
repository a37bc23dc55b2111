package edge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const goodYAML = `
gateway: gw-1
site: plant-1
uplink:
  url: tcp://127.0.0.1:1883
queue:
  path: /tmp/q.db
  max_bytes: 1048576
  drain: live_first
  backlog_rate: 100
sources:
  modbus:
    - name: press
      url: tcp://127.0.0.1:5020
      unit_id: 3
      poll_interval: 500ms
      registers:
        - {address: 0, type: float32, metric: vibration_rms, asset: pump-1}
        - {address: 2, type: int16, scale: 0.1, offset: -40, metric: bearing_temp_c, asset: pump-1, kind: input, poll_interval: 2s}
        - {address: 4, type: uint32, word_order: low_first, metric: run_hours, asset: pump-2}
  mqtt:
    - name: local
      url: tcp://127.0.0.1:1883
      topics:
        - {topic: devices/+/fan, asset: fan-1}
rules:
  deadband:
    - {metric: bearing_temp_c, band: 0.5, max_silence: 1m}
  alarms:
    - {metric: vibration_rms, above: 7.1, code: E_VIB, severity: critical}
`

func TestParseConfigYAML(t *testing.T) {
	c, err := ParseConfigYAML([]byte(goodYAML))
	require.NoError(t, err)
	require.Equal(t, "gw-1", c.Gateway)
	require.Equal(t, DefaultTopicRoot, c.TopicRoot)
	require.Equal(t, DrainLiveFirst, c.Queue.Drain)
	require.Equal(t, DefaultBatch, c.Queue.Batch)
	d := c.Sources.Modbus[0]
	require.Equal(t, uint8(3), d.UnitID)
	require.Equal(t, 500*time.Millisecond, d.PollInterval.D())
	require.Equal(t, 500*time.Millisecond, d.Registers[0].PollInterval.D(), "register inherits the device interval")
	require.Equal(t, 2*time.Second, d.Registers[1].PollInterval.D())
	require.Equal(t, KindHolding, d.Registers[0].Kind)
	require.Equal(t, HighWordFirst, d.Registers[0].WordOrder)
	require.Equal(t, 0.1, *d.Registers[1].Scale)
	require.Equal(t, time.Minute, c.Rules.Deadband[0].MaxSilence.D())

	// The JSON form (config topic) round-trips.
	js, err := json.Marshal(c)
	require.NoError(t, err)
	c2, err := ParseConfigJSON(js)
	require.NoError(t, err)
	c2.Normalize()
	require.Equal(t, c, c2)
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"unknown field", func(s string) string { return s + "colour: red\n" }, "unknown field"},
		{"bad gateway", func(s string) string { return strings.Replace(s, "gw-1", "gw 1", 1) }, "gateway"},
		{"bad type", func(s string) string { return strings.Replace(s, "type: float32", "type: float64", 1) }, "type \"float64\""},
		{"bad metric", func(s string) string { return strings.Replace(s, "metric: run_hours", "metric: RunHours", 1) }, "RunHours"},
		{"bad drain", func(s string) string { return strings.Replace(s, "drain: live_first", "drain: lifo", 1) }, "queue.drain"},
		{"bad duration", func(s string) string { return strings.Replace(s, "poll_interval: 500ms", "poll_interval: soon", 1) }, "decode"},
		{"alarm both", func(s string) string { return strings.Replace(s, "above: 7.1,", "above: 7.1, below: 1,", 1) }, "exactly one"},
		{"bad event code", func(s string) string { return strings.Replace(s, "code: E_VIB", "code: E VIB", 1) }, "code"},
		{"zero scale", func(s string) string { return strings.Replace(s, "scale: 0.1", "scale: 0", 1) }, "scale"},
		{"not yaml", func(string) string { return "gateway: [" }, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfigYAML([]byte(tt.edit(goodYAML)))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestWithRemote(t *testing.T) {
	file, err := ParseConfigYAML([]byte(goodYAML))
	require.NoError(t, err)

	remote := Config{Queue: QueueConfig{Drain: DrainFIFO}, Uplink: Uplink{URL: "tcp://evil:1883"}}
	remote.Rules.Deadband = []Deadband{{Metric: "vibration_rms", Band: 0.2}}
	c, err := file.WithRemote(remote)
	require.NoError(t, err)
	require.Equal(t, file.Uplink, c.Uplink, "uplink always comes from the file")
	require.Equal(t, file.Queue.Path, c.Queue.Path)
	require.Equal(t, file.Queue.MaxBytes, c.Queue.MaxBytes, "unset size keeps the file's")
	require.Empty(t, c.Sources.Modbus)
	require.Equal(t, DrainFIFO, c.Queue.Drain)
	require.Len(t, c.Rules.Deadband, 1)

	_, err = file.WithRemote(Config{Gateway: "gw-2"})
	require.ErrorContains(t, err, "gateway")
	_, err = file.WithRemote(Config{Site: "other"})
	require.ErrorContains(t, err, "site")
	bad := remote
	bad.Rules.Deadband = []Deadband{{Metric: "Bad"}}
	_, err = file.WithRemote(bad)
	require.Error(t, err)
}
