package workorders

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
)

func TestCalendarDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Schedule{Kind: ScheduleCalendar, StartsAt: start, Every: rules.Duration(30 * 24 * time.Hour), Lead: rules.Duration(7 * 24 * time.Hour)}
	tests := []struct {
		now  time.Time
		seq  int64
		due  time.Time
		want bool
	}{
		{start.Add(-8 * 24 * time.Hour), 0, time.Time{}, false},
		{start.Add(-7 * 24 * time.Hour), 0, start, true}, // lead: a week ahead
		{start.Add(22 * 24 * time.Hour), 0, start, true},
		{start.Add(23 * 24 * time.Hour), 1, start.Add(30 * 24 * time.Hour), true},
		{start.Add(200 * 24 * time.Hour), 6, start.Add(180 * 24 * time.Hour), true}, // catch-up: one, the latest
	}
	for _, tt := range tests {
		seq, due, ok := CalendarDue(s, tt.now)
		require.Equal(t, tt.want, ok, "now %s", tt.now)
		if ok {
			require.Equal(t, tt.seq, seq, "now %s", tt.now)
			require.Equal(t, tt.due, due, "now %s", tt.now)
		}
	}
}

func TestMeterDue(t *testing.T) {
	s := Schedule{Kind: ScheduleMeter, EveryHours: 500, Lead: rules.Duration(20 * time.Hour)}
	for _, tt := range []struct {
		hours float64
		seq   int64
		ok    bool
	}{{0, 0, false}, {479, 0, false}, {480, 1, true}, {979, 1, true}, {980, 2, true}} {
		seq, ok := MeterDue(s, tt.hours)
		require.Equal(t, tt.ok, ok, "%v h", tt.hours)
		require.Equal(t, tt.seq, seq, "%v h", tt.hours)
	}
}

func TestRunningHours(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int, v float64) MeterSample {
		return MeterSample{TS: t0.Add(time.Duration(m) * time.Minute), Value: v}
	}
	// Motor current: running (12 A) for 30 min, idle (0.5 A) 30 min, running
	// 60 min, then the sensor is silent for 2 h (not counted), running 15 min.
	s := []MeterSample{at(0, 12), at(15, 12), at(30, 0.5), at(60, 11), at(90, 11), at(120, 11), at(240, 12), at(255, 12)}
	require.InDelta(t, 0.5+1+0.25, RunningHours(s, 1.0, 31*time.Minute), 1e-9)
	require.InDelta(t, 0.5+1+2+0.25, RunningHours(s, 1.0, 0), 1e-9)
	require.Zero(t, RunningHours(nil, 1, 0))
	require.Zero(t, RunningHours(s[:1], 1, 0))
}

func TestValidateSchedule(t *testing.T) {
	pump := "pump"
	idle := 1.0
	ok := Schedule{Name: "oil", AssetType: &pump, Kind: ScheduleMeter, EveryHours: 500, MeterMetric: "motor_current",
		MeterMode: MeterAbove, IdleAbove: &idle, StartsAt: time.Now()}
	require.NoError(t, ValidateSchedule(&ok))
	require.Equal(t, P3, ok.Priority)
	bad := ok
	bad.IdleAbove = nil
	require.Error(t, ValidateSchedule(&bad))
	bad = ok
	bad.AssetType = nil
	require.Error(t, ValidateSchedule(&bad), "needs an asset or a type")
	bad = ok
	bad.Kind = ScheduleCalendar
	require.Error(t, ValidateSchedule(&bad), "calendar needs every")
	bad = ok
	bad.MeterMetric = "Bad Metric"
	require.Error(t, ValidateSchedule(&bad))
}
