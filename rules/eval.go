package rules

import (
	"fmt"
	"time"
)

// AssetRef names one asset: its codes in topics and its registered id and
// type.
type AssetRef struct {
	Site string
	Code string
	ID   string
	Type string
}

// Sample is one value of one metric at its event time.
type Sample struct {
	TS    time.Time `json:"ts"`
	Value float64   `json:"value"`
}

// maxBreachValues bounds the values a tracker keeps as evidence.
const maxBreachValues = 20

// latch is one limit's state: whether it fired and since when the value
// has been on the bad side.
type latch struct {
	active bool
	since  time.Time // zero when the last reading was inside the limit
}

// Tracker is the streaming threshold state of one rule on one asset. It is
// pure: Step and CheckStale read no clock and do no I/O, so replaying
// history gives the same signals as living through it. The zero value is
// ready to use. A Tracker is not safe for concurrent use.
type Tracker struct {
	last     Sample // latest accepted reading; zero TS before the first
	warn     latch
	crit     latch
	breach   []Sample // readings since the current breach started (bounded)
	stale    bool
	late     int
	accepted int
	// synced is set once a reading was back inside every limit by the
	// hysteresis: from then on the tracker's state no longer depends on
	// readings before it, so a replay from history that started anywhere
	// earlier raises exactly the signals the live tracker raised.
	synced bool
}

// State is a read-only snapshot of a Tracker for health views.
type State struct {
	// Level is the worst active level: "critical", "warning" or "ok";
	// "stale" when the sensor went silent.
	Level    string    `json:"level"`
	Last     Sample    `json:"last"`
	Since    time.Time `json:"since,omitempty"`
	Late     int       `json:"late_readings"`
	Accepted int       `json:"readings"`
}

// Snapshot returns the tracker's current state.
func (t *Tracker) Snapshot() State {
	st := State{Level: "ok", Last: t.last, Late: t.late, Accepted: t.accepted}
	switch {
	case t.crit.active:
		st.Level, st.Since = string(LevelCritical), t.crit.since
	case t.warn.active:
		st.Level, st.Since = string(LevelWarn), t.warn.since
	}
	if t.stale {
		st.Level = "stale"
	}
	return st
}

// Synced reports whether a reading was back inside every limit by the
// hysteresis since the tracker started: a tracker replayed from any point
// of history before that reading is then in the very state the live one
// is, and raises the same signals with the same event times.
func (t *Tracker) Synced() bool { return t.synced }

// LastTS returns the event time of the latest accepted reading.
func (t *Tracker) LastTS() time.Time { return t.last.TS }

// Step feeds one reading of the rule's metric. Readings at or before the
// latest accepted one (late or duplicate) are counted and ignored, so
// they never corrupt the state; it reports whether the reading was
// accepted. It returns the signals the reading raised, if any.
func (t *Tracker) Step(r *Rule, a AssetRef, ts time.Time, v float64) ([]Signal, bool) {
	if !t.last.TS.IsZero() && !ts.After(t.last.TS) {
		t.late++
		return nil, false
	}
	t.last = Sample{TS: ts, Value: v}
	t.accepted++
	if !t.synced && (r.Critical == nil || r.Direction.Cleared(v, *r.Critical, r.Hysteresis)) &&
		(r.Warn == nil || r.Direction.Cleared(v, *r.Warn, r.Hysteresis)) {
		t.synced = true
	}
	var out []Signal
	if t.stale {
		t.stale = false
		out = append(out, t.signal(r, a, KindStale, LevelClear, ts, v, 0, "readings resumed"))
	}
	wasActive := t.warn.active || t.crit.active
	var lastLimit float64
	if r.Critical != nil {
		lastLimit = *r.Critical
	}
	if r.Warn != nil && t.warn.active && !t.crit.active {
		lastLimit = *r.Warn
	}

	bad := false
	if r.Warn != nil && r.Direction.Bad(v, *r.Warn) {
		bad = true
	}
	if r.Critical != nil && r.Direction.Bad(v, *r.Critical) {
		bad = true
	}
	if bad {
		if len(t.breach) < maxBreachValues {
			t.breach = append(t.breach, t.last)
		} else {
			// Keep the first half (how it started) and slide the rest.
			copy(t.breach[maxBreachValues/2:], t.breach[maxBreachValues/2+1:])
			t.breach[len(t.breach)-1] = t.last
		}
	}

	firedCrit := false
	if r.Critical != nil {
		if t.step(&t.crit, r, ts, v, *r.Critical) {
			firedCrit = true
			out = append(out, t.breachSignal(r, a, LevelCritical, ts, v, *r.Critical, t.crit.since))
		}
	}
	if r.Warn != nil {
		if t.step(&t.warn, r, ts, v, *r.Warn) && !firedCrit && !t.crit.active {
			out = append(out, t.breachSignal(r, a, LevelWarn, ts, v, *r.Warn, t.warn.since))
		}
	}
	// A warn limit that is absent or looser than critical must not keep the
	// asset "in warning" after critical cleared: the latch logic above does
	// that on its own, since each limit clears with its own hysteresis.
	if wasActive && !t.warn.active && !t.crit.active {
		out = append(out, t.signal(r, a, KindThreshold, LevelClear, ts, v, lastLimit,
			fmt.Sprintf("%s back inside %g (hysteresis %g)", r.Metric, lastLimit, r.Hysteresis)))
	}
	if !bad && !t.warn.active && !t.crit.active {
		t.breach = t.breach[:0]
	}
	return out, true
}

// step advances one latch and reports whether it fired now.
func (t *Tracker) step(l *latch, r *Rule, ts time.Time, v, limit float64) bool {
	if l.active {
		if r.Direction.Cleared(v, limit, r.Hysteresis) {
			*l = latch{}
		}
		return false
	}
	if !r.Direction.Bad(v, limit) {
		l.since = time.Time{}
		return false
	}
	if l.since.IsZero() {
		l.since = ts
	}
	if ts.Sub(l.since) >= r.For.D() {
		l.active = true
		return true
	}
	return false
}

// CheckStale raises a stale signal once when the rule has a Stale duration
// and no reading arrived within it before watermark (event time). A
// tracker that never saw a reading is not stale: there is nothing to miss.
func (t *Tracker) CheckStale(r *Rule, a AssetRef, watermark time.Time) []Signal {
	if r.Stale <= 0 || t.stale || t.last.TS.IsZero() {
		return nil
	}
	silent := watermark.Sub(t.last.TS)
	if silent < r.Stale.D() {
		return nil
	}
	t.stale = true
	s := t.signal(r, a, KindStale, LevelWarn, watermark, t.last.Value, 0,
		fmt.Sprintf("no %s reading for %s (last at %s)", r.Metric, Duration(silent), t.last.TS.Format(time.RFC3339)))
	s.Evidence = map[string]any{
		"last_reading_at": t.last.TS,
		"last_value":      t.last.Value,
		"silent_for":      Duration(silent).String(),
		"stale_after":     r.Stale.String(),
	}
	return []Signal{s}
}

func (t *Tracker) breachSignal(r *Rule, a AssetRef, lvl Level, ts time.Time, v, limit float64, since time.Time) Signal {
	msg := fmt.Sprintf("%s %g is %s %s limit %g since %s", r.Metric, v, r.Direction, lvl, limit, since.Format(time.RFC3339))
	s := t.signal(r, a, KindThreshold, lvl, ts, v, limit, msg)
	vals := make([]Sample, len(t.breach))
	copy(vals, t.breach)
	s.Evidence = map[string]any{
		"metric":       r.Metric,
		"direction":    string(r.Direction),
		"limit":        limit,
		"breach_start": since,
		"for":          r.For.String(),
		"hysteresis":   r.Hysteresis,
		"values":       vals,
	}
	return s
}

func (t *Tracker) signal(r *Rule, a AssetRef, k Kind, lvl Level, ts time.Time, v, limit float64, msg string) Signal {
	return Signal{
		Kind:        k,
		Level:       lvl,
		RuleID:      r.ID,
		Site:        a.Site,
		Asset:       a.Code,
		AssetID:     a.ID,
		Metric:      r.Metric,
		FailureMode: r.FailureMode,
		Value:       v,
		Limit:       limit,
		DetectedAt:  ts,
		Message:     msg,
	}
}
