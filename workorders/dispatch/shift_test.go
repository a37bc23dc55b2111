package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAvailability(t *testing.T) {
	mon := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // Monday
	at := func(day, h, m int) time.Time {
		return mon.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	shifts := []Shift{
		{Day: "mon", Start: "08:00", End: "16:00"},
		{Day: "tue", Start: "22:00", End: "06:00"}, // night shift into Wednesday
		{Day: "Wed", Start: "05:00", End: "09:00"}, // overlaps the night shift: merged
	}
	t.Run("expands and merges", func(t *testing.T) {
		got := Availability(shifts, time.UTC, nil, mon, mon.AddDate(0, 0, 7))
		require.Equal(t, []Interval{
			{Start: at(0, 8, 0), End: at(0, 16, 0)},
			{Start: at(1, 22, 0), End: at(2, 9, 0)},
		}, got)
	})
	t.Run("clips to from", func(t *testing.T) {
		got := Availability(shifts, time.UTC, nil, at(0, 12, 0), at(1, 0, 0))
		require.Equal(t, []Interval{{Start: at(0, 12, 0), End: at(0, 16, 0)}}, got)
	})
	t.Run("night shift begun the day before from", func(t *testing.T) {
		got := Availability(shifts, time.UTC, nil, at(2, 1, 0), at(3, 0, 0))
		require.Equal(t, []Interval{{Start: at(2, 1, 0), End: at(2, 9, 0)}}, got)
	})
	t.Run("time off removed", func(t *testing.T) {
		off := []Interval{{Start: at(0, 10, 0), End: at(0, 12, 0)}, {Start: at(1, 0, 0), End: at(3, 0, 0)}}
		got := Availability(shifts, time.UTC, off, mon, mon.AddDate(0, 0, 7))
		require.Equal(t, []Interval{{Start: at(0, 8, 0), End: at(0, 10, 0)}, {Start: at(0, 12, 0), End: at(0, 16, 0)}}, got)
		require.True(t, OnShift(got, at(0, 9, 0)))
		require.False(t, OnShift(got, at(0, 11, 0)))
	})
	t.Run("time zone", func(t *testing.T) {
		berlin, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			t.Fatalf("tzdata: %v", err)
		}
		got := Availability([]Shift{{Day: "mon", Start: "08:00", End: "16:00"}}, berlin, nil, mon, mon.AddDate(0, 0, 1))
		require.Equal(t, []Interval{{Start: at(0, 7, 0), End: at(0, 15, 0)}}, got)
	})
	t.Run("validate", func(t *testing.T) {
		require.NoError(t, Shift{Day: "fri", Start: "07:30", End: "15:30"}.Validate())
		require.Error(t, Shift{Day: "friday", Start: "07:30", End: "15:30"}.Validate())
		require.Error(t, Shift{Day: "fri", Start: "7", End: "15:30"}.Validate())
		require.Error(t, Shift{Day: "fri", Start: "07:30", End: "25:00"}.Validate())
	})
}
