package edge

import (
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
	"github.com/stretchr/testify/require"
)

func rd(asset string, sec int, metrics ...ingest.Metric) ingest.Reading {
	return ingest.Reading{Site: "s", Asset: asset, TS: time.Unix(int64(sec), 0).UTC(), Metrics: metrics}
}

func m(name string, v float64) ingest.Metric { return ingest.Metric{Name: name, Value: v} }

func TestDeadbandReportByException(t *testing.T) {
	l := newLocalRules(LocalRules{Deadband: []Deadband{
		{Metric: "temp", Band: 0.5, MaxSilence: rules.Duration(10 * time.Second)},
		{Asset: "special", Metric: "temp", Band: 5},
	}})
	steps := []struct {
		r    ingest.Reading
		want []string // metric names sent
	}{
		{rd("a", 0, m("temp", 20), m("vib", 1)), []string{"temp", "vib"}}, // first value always goes
		{rd("a", 1, m("temp", 20.4), m("vib", 1)), []string{"vib"}},       // within band; vib has no deadband
		{rd("a", 2, m("temp", 20.6)), []string{"temp"}},                   // moved 0.6 from the last sent
		{rd("a", 3, m("temp", 20.3)), nil},                                // 0.3 from 20.6
		{rd("a", 12, m("temp", 20.3)), []string{"temp"}},                  // max silence (10s since 2s)
		{rd("a", 13, m("temp", 20.3)), nil},
		{rd("a", 5, m("temp", 20.3)), []string{"temp"}}, // time went back: device restarted
		{rd("special", 0, m("temp", 20)), []string{"temp"}},
		{rd("special", 1, m("temp", 24)), nil},  // asset-specific band 5 wins
		{rd("special", 99, m("temp", 24)), nil}, // no max silence there
		{rd("special", 100, m("temp", 25.5)), []string{"temp"}},
	}
	for i, s := range steps {
		out, ok, _ := l.apply(s.r)
		var got []string
		for _, mm := range out.Metrics {
			got = append(got, mm.Name)
		}
		require.Equal(t, s.want, got, "step %d", i)
		require.Equal(t, len(s.want) > 0, ok, "step %d", i)
	}
}

func TestAlarmsRaiseAndClear(t *testing.T) {
	above, below := 7.0, 1.0
	l := newLocalRules(LocalRules{Alarms: []Alarm{
		{Metric: "vib", Above: &above, Code: "E_VIB", Severity: "critical"},
		{Asset: "b", Metric: "flow", Below: &below, Code: "E_FLOW", Severity: "warning", Message: "flow low"},
	}})
	type ev struct{ asset, code, sev string }
	steps := []struct {
		r    ingest.Reading
		want []ev
	}{
		{rd("a", 0, m("vib", 6)), nil},
		{rd("a", 1, m("vib", 7.5)), []ev{{"a", "E_VIB", "critical"}}},
		{rd("a", 2, m("vib", 8)), nil}, // still on: no repeat
		{rd("b", 2, m("vib", 9), m("flow", 0.5)), []ev{{"b", "E_VIB", "critical"}, {"b", "E_FLOW", "warning"}}},
		{rd("a", 3, m("vib", 7)), []ev{{"a", "E_VIB", "info"}}}, // cleared
		{rd("a", 4, m("flow", 0)), nil},                         // flow alarm only for b
	}
	for i, s := range steps {
		_, _, events := l.apply(s.r)
		var got []ev
		for _, e := range events {
			got = append(got, ev{e.Asset, e.Code, e.Severity})
			require.Equal(t, s.r.TS, e.TS, "event time is the reading's time")
			require.NotEmpty(t, e.Message)
		}
		require.Equal(t, s.want, got, "step %d", i)
	}
	// A reload keeps alarm state: no second raise for a still-high value.
	l.setConfig(l.cfg)
	_, _, events := l.apply(rd("b", 5, m("vib", 9)))
	require.Empty(t, events)
}
