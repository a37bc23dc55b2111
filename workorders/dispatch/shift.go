package dispatch

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Shift is one weekly shift window: on Day, from Start to End local time
// ("08:00" to "17:00"). An End at or before Start runs past midnight.
type Shift struct {
	Day   string `json:"day"`   // mon, tue, wed, thu, fri, sat, sun
	Start string `json:"start"` // HH:MM
	End   string `json:"end"`   // HH:MM
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("time %q must be HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Validate reports a shift that cannot be used, saying what is wrong.
func (s Shift) Validate() error {
	if _, ok := weekdays[strings.ToLower(s.Day)]; !ok {
		return fmt.Errorf("day %q must be one of mon, tue, wed, thu, fri, sat, sun", s.Day)
	}
	if _, err := parseClock(s.Start); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if _, err := parseClock(s.End); err != nil {
		return fmt.Errorf("end: %w", err)
	}
	return nil
}

// Availability expands weekly shifts in time zone loc into on-shift
// intervals within [from, to), with time off removed, sorted and merged.
// Invalid shifts are ignored (validate them on input).
func Availability(shifts []Shift, loc *time.Location, timeOff []Interval, from, to time.Time) []Interval {
	if loc == nil {
		loc = time.UTC
	}
	if !to.After(from) {
		return nil
	}
	var out []Interval
	lf := from.In(loc)
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -1)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		for _, s := range shifts {
			wd, ok := weekdays[strings.ToLower(s.Day)]
			if !ok || wd != day.Weekday() {
				continue
			}
			a, err1 := parseClock(s.Start)
			b, err2 := parseClock(s.End)
			if err1 != nil || err2 != nil {
				continue
			}
			start := clockOn(day, a, loc)
			end := clockOn(day, b, loc)
			if !end.After(start) {
				end = clockOn(day.AddDate(0, 0, 1), b, loc)
			}
			out = append(out, Interval{Start: start.UTC(), End: end.UTC()})
		}
	}
	out = clip(merge(out), from, to)
	for _, off := range timeOff {
		out = subtract(out, off)
	}
	return out
}

func clockOn(day time.Time, d time.Duration, loc *time.Location) time.Time {
	h := int(d / time.Hour)
	m := int((d % time.Hour) / time.Minute)
	return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc)
}

func merge(iv []Interval) []Interval {
	if len(iv) == 0 {
		return nil
	}
	sort.Slice(iv, func(a, b int) bool { return iv[a].Start.Before(iv[b].Start) })
	out := []Interval{iv[0]}
	for _, x := range iv[1:] {
		last := &out[len(out)-1]
		if !x.Start.After(last.End) {
			if x.End.After(last.End) {
				last.End = x.End
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

func clip(iv []Interval, from, to time.Time) []Interval {
	var out []Interval
	for _, x := range iv {
		if x.Start.Before(from) {
			x.Start = from
		}
		if x.End.After(to) {
			x.End = to
		}
		if x.End.After(x.Start) {
			out = append(out, x)
		}
	}
	return out
}

func subtract(iv []Interval, off Interval) []Interval {
	if !off.End.After(off.Start) {
		return iv
	}
	var out []Interval
	for _, x := range iv {
		if !off.Start.Before(x.End) || !off.End.After(x.Start) {
			out = append(out, x)
			continue
		}
		if off.Start.After(x.Start) {
			out = append(out, Interval{Start: x.Start, End: off.Start})
		}
		if off.End.Before(x.End) {
			out = append(out, Interval{Start: off.End, End: x.End})
		}
	}
	return out
}

// OnShift reports whether t falls inside one of the intervals.
func OnShift(av []Interval, t time.Time) bool {
	for _, x := range av {
		if !t.Before(x.Start) && t.Before(x.End) {
			return true
		}
	}
	return false
}
