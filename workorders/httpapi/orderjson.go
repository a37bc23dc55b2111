package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// The order list is the API's most requested answer; encoding/json spends
// most of its time there on reflection and on re-compacting what the
// time, duration and raw-evidence marshalers return. appendOrder writes
// the same bytes as json.Marshal (TestAppendOrderMatchesEncodingJSON
// compares them on random orders) without either.

// orderListJSON writes the contract's list of orders as json.Marshal of
// List[workorders.Order] would.
func orderListJSON(c *gin.Context, items []workorders.Order, next string) {
	bp := jsonBufs.Get().(*[]byte)
	b := appendOrderList((*bp)[:0], items, next)
	writeJSONBytes(c, b)
	if cap(b) <= 1<<20 {
		*bp = b
		jsonBufs.Put(bp)
	}
}

// writeJSONBytes answers 200 with the JSON b. Its length is declared:
// without it, net/http sends an answer longer than 2 KB in chunks, a few
// more writes for the server and more parsing for the client.
func writeJSONBytes(c *gin.Context, b []byte) {
	c.Header("Content-Length", strconv.Itoa(len(b)))
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func appendOrderList(b []byte, items []workorders.Order, next string) []byte {
	b = append(b, `{"items":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOrder(b, &items[i])
	}
	b = append(b, `],"next_cursor":`...)
	b = appendJSONString(b, next)
	return append(b, '}')
}

func appendOrder(b []byte, o *workorders.Order) []byte {
	b = appendOrderHead(b, o)
	b = appendOptString(b, `,"status_url":`, o.StatusURL)
	return appendOrderTail(b, o)
}

// appendOrderHead writes an order's members before status_url, the one
// member that depends on the request (Server.statusURL), and
// appendOrderTail those after it: the cache of rendered orders keeps both
// (ordercache.go).
func appendOrderHead(b []byte, o *workorders.Order) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, o.ID)
	b = append(b, `,"number":`...)
	b = appendJSONString(b, o.Number)
	b = append(b, `,"asset_id":`...)
	b = appendJSONString(b, o.AssetID)
	b = append(b, `,"site_id":`...)
	b = appendJSONString(b, o.SiteID)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, o.Title)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, o.Description)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, string(o.Source))
	b = append(b, `,"failure_mode":`...)
	b = appendJSONString(b, o.FailureMode)
	b = append(b, `,"rule_id":`...)
	b = appendStringPtr(b, o.RuleID)
	b = append(b, `,"priority":`...)
	b = appendJSONString(b, string(o.Priority))
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(o.Status))
	b = append(b, `,"created_at":`...)
	b = appendTime(b, o.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, o.UpdatedAt)
	b = appendOptTime(b, `,"approved_at":`, o.ApprovedAt)
	b = append(b, `,"due_at":`...)
	if o.DueAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *o.DueAt)
	}
	b = append(b, `,"assignee_id":`...)
	b = appendStringPtr(b, o.AssigneeID)
	b = append(b, `,"required_skills":`...)
	b = appendStrings(b, o.RequiredSkills)
	b = append(b, `,"parts":`...)
	b = appendParts(b, o.Parts)
	b = append(b, `,"estimated_duration":`...)
	b = appendDuration(b, o.EstimatedDuration)
	b = append(b, `,"evidence":`...)
	b = appendRaw(b, o.Evidence)
	b = appendOptTime(b, `,"detected_at":`, o.DetectedAt)
	b = appendOptTime(b, `,"predicted_failure_at":`, o.PredictedFailureAt)
	b = appendOptTime(b, `,"predicted_failure_earliest":`, o.PredictedFailureEarliest)
	b = appendOptTime(b, `,"predicted_failure_latest":`, o.PredictedFailureLatest)
	if o.FollowUpOf != nil {
		b = append(b, `,"follow_up_of":`...)
		b = appendJSONString(b, *o.FollowUpOf)
	}
	b = append(b, `,"signal_count":`...)
	b = strconv.AppendInt(b, int64(o.SignalCount), 10)
	b = appendOptString(b, `,"reason":`, o.Reason)
	b = appendOptString(b, `,"hold_reason":`, o.HoldReason)
	b = appendOptString(b, `,"resolution":`, o.Resolution)
	if o.LabourTime != 0 {
		b = append(b, `,"labour_time":`...)
		b = appendDuration(b, o.LabourTime)
	}
	if len(o.PartsUsed) > 0 {
		b = append(b, `,"parts_used":`...)
		b = appendParts(b, o.PartsUsed)
	}
	b = appendOptTime(b, `,"accepted_at":`, o.AcceptedAt)
	b = appendOptTime(b, `,"started_at":`, o.StartedAt)
	b = appendOptTime(b, `,"completed_at":`, o.CompletedAt)
	b = appendOptTime(b, `,"verified_at":`, o.VerifiedAt)
	b = appendOptTime(b, `,"closed_at":`, o.ClosedAt)
	b = appendOptTime(b, `,"on_hold_since":`, o.OnHoldSince)
	b = append(b, `,"held_for":`...)
	b = appendDuration(b, o.HeldFor)
	b = append(b, `,"sla_state":`...)
	b = appendJSONString(b, o.SLAState)
	return b
}

func appendOrderTail(b []byte, o *workorders.Order) []byte {
	b = append(b, `,"helper_ids":`...)
	b = appendStrings(b, o.HelperIDs)
	b = append(b, `,"transfer_request":`...)
	if t := o.Transfer; t == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"from_user_id":`...)
		b = appendJSONString(b, t.FromUserID)
		b = append(b, `,"to_user_id":`...)
		b = appendJSONString(b, t.ToUserID)
		b = append(b, `,"to_name":`...)
		b = appendJSONString(b, t.ToName)
		b = append(b, `,"requested_by":`...)
		b = appendJSONString(b, t.RequestedBy)
		b = append(b, `,"requested_at":`...)
		b = appendTime(b, t.RequestedAt)
		b = appendOptString(b, `,"note":`, t.Note)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendDuration writes d's contract form; zero, the common case, without
// formatting.
func appendDuration(b []byte, d rules.Duration) []byte {
	if d == 0 {
		return append(b, `"0s"`...)
	}
	return appendJSONString(b, d.String())
}

func appendOptTime(b []byte, key string, t *time.Time) []byte {
	if t == nil {
		return b
	}
	return appendTime(append(b, key...), *t)
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendParts(b []byte, ps []rules.PartQty) []byte {
	if ps == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sku":`...)
		b = appendJSONString(b, p.SKU)
		b = append(b, `,"qty":`...)
		b = strconv.AppendInt(b, int64(p.Qty), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendTime writes t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, trailing zeros dropped).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendRaw writes a raw JSON value as encoding/json does: compacted, with
// <, >, & and U+2028/U+2029 escaped; empty is null.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	if !json.Valid(raw) {
		// Never from the database (jsonb): as a string, so that the
		// answer stays valid JSON.
		return appendJSONString(b, string(raw))
	}
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			switch c {
			case ' ', '\t', '\n', '\r':
				continue
			case '"':
				inString = true
			}
			b = append(b, c)
			continue
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inString = false
		case c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			continue
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			i += 2
			continue
		}
		b = append(b, c)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// plainJSON marks the ASCII bytes a JSON string holds as they are.
var plainJSON = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString writes s as encoding/json does with HTML escaping (its
// default): control characters, quotes, backslashes, <, > and & escaped,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plainJSON[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
