package edge

import (
	"fmt"
	"time"

	"github.com/openpdm/pdm/ingest"
)

type seriesKey struct{ asset, metric string }

type lastSent struct {
	value float64
	ts    time.Time
}

type alarmKey struct{ asset, metric, code string }

// localRules applies deadband, report-by-exception and threshold alarms in
// event time. It is not safe for concurrent use.
type localRules struct {
	cfg     LocalRules
	last    map[seriesKey]lastSent
	alarmOn map[alarmKey]bool
}

func newLocalRules(cfg LocalRules) *localRules {
	return &localRules{cfg: cfg, last: map[seriesKey]lastSent{}, alarmOn: map[alarmKey]bool{}}
}

// setConfig swaps the rules, keeping alarm and last-sent state so a reload
// neither repeats events nor resends unchanged values.
func (l *localRules) setConfig(cfg LocalRules) { l.cfg = cfg }

func (l *localRules) deadband(asset, metric string) (Deadband, bool) {
	var found Deadband
	ok := false
	for _, d := range l.cfg.Deadband {
		if d.Metric != metric {
			continue
		}
		if d.Asset == asset {
			return d, true // asset-specific wins
		}
		if d.Asset == "" && !ok {
			found, ok = d, true
		}
	}
	return found, ok
}

// apply returns the reading with the metrics that are to be sent (ok false
// when none are) and the device events its values raise.
func (l *localRules) apply(r ingest.Reading) (out ingest.Reading, ok bool, events []Event) {
	for _, a := range l.cfg.Alarms {
		if a.Asset != "" && a.Asset != r.Asset {
			continue
		}
		v, has := r.Value(a.Metric)
		if !has {
			continue
		}
		k := alarmKey{r.Asset, a.Metric, a.Code}
		var on bool
		var limit float64
		word := "above"
		if a.Above != nil {
			limit = *a.Above
			on = v > limit
		} else {
			limit = *a.Below
			on = v < limit
			word = "below"
		}
		if on == l.alarmOn[k] {
			continue
		}
		l.alarmOn[k] = on
		e := Event{Site: r.Site, Asset: r.Asset, TS: r.TS, Code: a.Code, Severity: a.Severity}
		if on {
			e.Message = a.Message
			if e.Message == "" {
				e.Message = fmt.Sprintf("%s %g %s %g", a.Metric, v, word, limit)
			}
		} else {
			e.Severity = "info"
			e.Message = fmt.Sprintf("%s %g back within %g (cleared %s)", a.Metric, v, limit, a.Code)
		}
		events = append(events, e)
	}
	if len(l.cfg.Deadband) == 0 {
		return r, len(r.Metrics) > 0, events
	}
	out = r
	out.Metrics = nil
	for _, m := range r.Metrics {
		d, has := l.deadband(r.Asset, m.Name)
		if !has {
			out.Metrics = append(out.Metrics, m)
			continue
		}
		k := seriesKey{r.Asset, m.Name}
		prev, seen := l.last[k]
		send := !seen ||
			abs(m.Value-prev.value) > d.Band ||
			(d.MaxSilence > 0 && r.TS.Sub(prev.ts) >= d.MaxSilence.D()) ||
			r.TS.Before(prev.ts) // time went backwards: a restarted device
		if send {
			l.last[k] = lastSent{value: m.Value, ts: r.TS}
			out.Metrics = append(out.Metrics, m)
		}
	}
	return out, len(out.Metrics) > 0, events
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
