package ingest

import (
	"context"
	"strconv"
	"time"
)

// Severity of a device event.
type Severity string

// Severities a device may report.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Event is a device event from pdm/v1/{site}/{asset}/event.
type Event struct {
	Site     string
	Asset    string
	TS       time.Time // the event's own time
	Code     string
	Severity Severity
	Message  string
}

// EventHandler handles device events. The pipeline acknowledges an event to
// the broker only after HandleEvent returns nil, and retries with backoff
// otherwise, so HandleEvent must be idempotent (the same event may come
// again after a crash or a redelivery).
type EventHandler interface {
	HandleEvent(ctx context.Context, ev Event) error
}

// EventHandlerFunc adapts a function to an EventHandler.
type EventHandlerFunc func(ctx context.Context, ev Event) error

// HandleEvent calls f.
func (f EventHandlerFunc) HandleEvent(ctx context.Context, ev Event) error { return f(ctx, ev) }

// Limits of an event's fields.
const (
	maxEventCode    = 64
	maxEventMessage = 4096
)

// DecodeEvent decodes a device event payload
// {"ts":...,"code":"E42","severity":"info|warning|critical","message":"..."}.
// ts is RFC 3339 or Unix milliseconds; code is 1–64 printable characters
// without spaces; message is optional (at most 4 KiB). A rejected payload
// returns a *RejectError.
func DecodeEvent(site, asset string, payload []byte, now time.Time) (Event, error) {
	if err := checkCommon(site, asset, payload); err != nil {
		return Event{}, err
	}
	var d Decoder
	p := jsonParser{b: payload, d: &d, now: now}
	ev := Event{Site: site, Asset: asset}
	var haveTS bool
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "ts":
			t, err := p.ts()
			if err != nil {
				return err
			}
			ev.TS, haveTS = t, true
		case "code", "severity", "message":
			k := string(key)
			if p.next() != '"' {
				return reject(ReasonBadEvent, k+" is not a string")
			}
			v, err := p.str()
			if err != nil {
				return err
			}
			switch k {
			case "code":
				ev.Code = string(v)
			case "severity":
				ev.Severity = Severity(v)
			default:
				ev.Message = string(v)
			}
		default:
			return p.skip(0)
		}
		return nil
	})
	if err != nil {
		return Event{}, err
	}
	p.ws()
	if p.i != len(p.b) {
		return Event{}, p.bad("trailing data")
	}
	if !haveTS {
		return Event{}, reject(ReasonBadTS, "missing ts")
	}
	if err := checkTS(ev.TS, now); err != nil {
		return Event{}, err
	}
	if !validEventCode(ev.Code) {
		return Event{}, reject(ReasonBadEvent, "code "+strconv.Quote(clip(ev.Code)))
	}
	switch ev.Severity {
	case SeverityInfo, SeverityWarning, SeverityCritical:
	default:
		return Event{}, reject(ReasonBadEvent, "severity "+strconv.Quote(clip(string(ev.Severity))))
	}
	if len(ev.Message) > maxEventMessage {
		return Event{}, reject(ReasonBadEvent, "message longer than "+strconv.Itoa(maxEventMessage)+" bytes")
	}
	return ev, nil
}

func validEventCode(s string) bool {
	if len(s) == 0 || len(s) > maxEventCode {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
