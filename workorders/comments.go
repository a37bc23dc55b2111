package workorders

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// EventComment is the event type of a comment on an order (an engineer's
// note from the field included); it changes nothing of the order.
const EventComment = "comment"

// mentionRE finds @name mentions (names may hold letters of any script).
var mentionRE = regexp.MustCompile(`@([\p{L}\p{N}_.\-]{1,64})`)

// Mention is one person a comment mentions.
type Mention struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
}

// Comment appends a comment to an order's history. @name mentions of
// known users (names compared case-insensitively, spaces written as _ or
// .) are listed in the event's data under "mentions", so that hooks (the
// AfterTransition callback, webhooks on work_order.comment) can notify
// them. Engineers comment only on their own jobs and the jobs they help on.
func (s *Service) Comment(ctx context.Context, actor Actor, orderID, text string) (Event, error) {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > 4000 {
		return Event{}, Invalid("text", "required, at most 4000 characters")
	}
	mentions, err := s.mentions(ctx, text)
	if err != nil {
		return Event{}, err
	}
	var ev Event
	o, err := s.Store.UpdateOrder(ctx, orderID, func(o *Order) (Event, error) {
		if notInvolved(actor, o) {
			return Event{}, errNotYours(orderID)
		}
		var data json.RawMessage
		if len(mentions) > 0 {
			data, _ = json.Marshal(map[string]any{"mentions": mentions})
		}
		ev = Event{OrderID: o.ID, Type: EventComment, ActorID: actor.ID, Actor: actor.Name, Note: text, Data: data}
		return ev, nil
	})
	if err != nil {
		return Event{}, err
	}
	s.after(ctx, o, ev)
	return ev, nil
}

func normName(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "_", "", ".", "", "-", "").Replace(s))
}

func (s *Service) mentions(ctx context.Context, text string) ([]Mention, error) {
	found := mentionRE.FindAllStringSubmatch(text, 20)
	if len(found) == 0 {
		return nil, nil
	}
	want := map[string]bool{}
	for _, m := range found {
		want[normName(m[1])] = true
	}
	var out []Mention
	seen := map[string]bool{}
	p := Page{Limit: 500}
	for range 20 {
		users, next, err := s.Store.ListUsers(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if want[normName(u.Name)] && !seen[u.ID] {
				seen[u.ID] = true
				out = append(out, Mention{UserID: u.ID, Name: u.Name})
			}
		}
		if next == "" {
			break
		}
		p.Cursor = next
	}
	return out, nil
}
