package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
)

// LiveSource is where the hub reads changes: the live_events rows every
// replica shares (workorders/postgres satisfies it).
type LiveSource interface {
	// LiveAfter returns up to limit events with ids above after, oldest first.
	LiveAfter(ctx context.Context, after int64, limit int) ([]workorders.LiveEvent, error)
	// LiveBounds returns the smallest and largest id kept (0, 0 for none).
	LiveBounds(ctx context.Context) (first, last int64, err error)
	// ListenLive calls wake on each new change until ctx ends (nil) or
	// the listening connection fails (its error).
	ListenLive(ctx context.Context, wake func()) error
	// PruneLive deletes events recorded before the given time.
	PruneLive(ctx context.Context, before time.Time) (int64, error)
}

// Hub reads the shared live events once per process and fans them out to
// every connected browser (GET /api/v1/events). Ids are handed out by a
// sequence, so a transaction may commit an id below one already read: the
// hub keeps a watermark below which every event has been delivered (or
// its id given up after GapWait as rolled back) and delivers events above
// it as they appear, each once. A stream's Last-Event-ID is that
// watermark, so a client resuming anywhere gets everything after it, at
// worst twice.
type Hub struct {
	src LiveSource
	log *slog.Logger
	// Poll is the longest wait between reads when no notification wakes
	// the hub (default 500 ms; notifications make it sooner).
	Poll time.Duration
	// GapWait is how long an id missing below later ones is waited for
	// before it is taken as rolled back (default 10 s).
	GapWait time.Duration
	// Keep is how long events stay for resuming streams (default 24 h).
	Keep time.Duration
	// MaxReplay is the most events a resuming stream is sent; a client
	// further behind is told to reset (reload everything) instead.
	MaxReplay int
	// Heartbeat is the interval of comment lines that keep idle streams
	// open through proxies (default 15 s).
	Heartbeat time.Duration

	wake chan struct{}

	mu      sync.Mutex // guards the fields below
	subs    map[*subscriber]struct{}
	low     int64              // every id ≤ low was delivered or given up
	done    map[int64]struct{} // ids above low already delivered
	stuck   time.Time          // when low first waited on a missing id
	running bool
	ready   chan struct{} // closed when low is known
	stopped bool
}

// NewHub returns a hub over src; run it with Run.
func NewHub(src LiveSource, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{src: src, log: log, Poll: 500 * time.Millisecond, GapWait: 10 * time.Second, Keep: 24 * time.Hour,
		MaxReplay: 2000, Heartbeat: 15 * time.Second, wake: make(chan struct{}, 1),
		subs: map[*subscriber]struct{}{}, done: map[int64]struct{}{}, ready: make(chan struct{})}
}

type subscriber struct {
	ch chan hubMsg
	// overflow is set (before ch closes) when the client fell too far behind.
	overflow bool
}

type hubMsg struct {
	ev   workorders.LiveEvent
	mark int64 // the stream position after this event
}

const subscriberBuffer = 1024

// Run reads and fans out events until ctx ends, then closes every stream.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.running {
		h.mu.Unlock()
		return errors.New("live hub already running")
	}
	h.running = true
	h.mu.Unlock()
	defer h.stop()
	for {
		_, last, err := h.src.LiveBounds(ctx)
		if err == nil {
			h.mu.Lock()
			h.low = last
			h.mu.Unlock()
			close(h.ready)
			break
		}
		h.log.WarnContext(ctx, "live events: read position", "err", err)
		if !sleepCtx(ctx, time.Second) {
			return nil
		}
	}
	go h.listen(ctx)
	poll := time.NewTicker(h.Poll)
	defer poll.Stop()
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	h.prune(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-poll.C:
		case <-prune.C:
			h.prune(ctx)
			continue
		}
		if err := h.poll(ctx, time.Now()); err != nil && ctx.Err() == nil {
			h.log.WarnContext(ctx, "live events: read", "err", err)
		}
	}
}

func (h *Hub) listen(ctx context.Context) {
	for ctx.Err() == nil {
		if err := h.src.ListenLive(ctx, h.poke); err != nil && ctx.Err() == nil {
			h.log.WarnContext(ctx, "live events: listen (polling meanwhile)", "err", err)
			sleepCtx(ctx, time.Second)
		}
	}
}

func (h *Hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Hub) prune(ctx context.Context) {
	if n, err := h.src.PruneLive(ctx, time.Now().Add(-h.Keep)); err != nil && ctx.Err() == nil {
		h.log.WarnContext(ctx, "live events: prune", "err", err)
	} else if n > 0 {
		h.log.InfoContext(ctx, "live events pruned", "count", n)
	}
}

// poll reads what is new above the watermark, delivers what was not yet
// delivered and moves the watermark.
func (h *Hub) poll(ctx context.Context, now time.Time) error {
	h.mu.Lock()
	low := h.low
	h.mu.Unlock()
	evs, err := h.src.LiveAfter(ctx, low, 5000)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fresh := evs[:0]
	for _, e := range evs {
		if _, ok := h.done[e.ID]; ok || e.ID <= h.low {
			continue
		}
		h.done[e.ID] = struct{}{}
		fresh = append(fresh, e)
	}
	h.advance(now)
	for _, e := range fresh {
		h.deliver(hubMsg{ev: e, mark: min(e.ID, h.low)})
	}
	return nil
}

// advance moves low over delivered ids, and over missing ids that have
// stayed missing for GapWait while later ones were delivered.
func (h *Hub) advance(now time.Time) {
	moved := false
	for len(h.done) > 0 {
		if _, ok := h.done[h.low+1]; ok {
			delete(h.done, h.low+1)
			h.low++
			moved = true
			continue
		}
		if moved || h.stuck.IsZero() {
			h.stuck = now
			return
		}
		if now.Sub(h.stuck) < h.GapWait {
			return
		}
		next := int64(-1)
		for id := range h.done {
			if next < 0 || id < next {
				next = id
			}
		}
		h.low = next - 1
		moved = true
	}
	h.stuck = time.Time{}
}

func (h *Hub) deliver(m hubMsg) {
	for s := range h.subs {
		select {
		case s.ch <- m:
		default:
			s.overflow = true
			close(s.ch)
			delete(h.subs, s)
		}
	}
}

func (h *Hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for s := range h.subs {
		close(s.ch)
		delete(h.subs, s)
	}
}

var errHubDown = errors.New("live updates are not running")

// Position returns the watermark (every event at or below it delivered),
// false until the hub knows it or after it stopped.
func (h *Hub) Position() (int64, bool) {
	select {
	case <-h.ready:
	default:
		return 0, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.low, !h.stopped
}

// LivePositionHeader stamps each API answer with the hub's Position read
// before the handler ran: the answer reflects every change at or below
// it. A page whose live stream is not open yet resumes a fresh stream from
// the smallest position its reads carried (?last_event_id=), so what
// changed after any of its reads is replayed and nothing need be read
// again.
const LivePositionHeader = "X-Live-Position"

// livePosition sets LivePositionHeader on API answers.
func (s *Server) livePosition(c *gin.Context) {
	if hub := s.cfg.Live; hub != nil && strings.HasPrefix(c.Request.URL.Path, apiPrefix+"/") {
		if p, ok := hub.Position(); ok {
			c.Header(LivePositionHeader, strconv.FormatInt(p, 10))
		}
	}
	c.Next()
}

// subscribe registers a stream and returns it with the watermark at that
// moment; it waits (bounded by ctx) until the hub knows its position.
func (h *Hub) subscribe(ctx context.Context) (*subscriber, int64, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, 0, errHubDown
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return nil, 0, errHubDown
	}
	s := &subscriber{ch: make(chan hubMsg, subscriberBuffer)}
	h.subs[s] = struct{}{}
	return s, h.low, nil
}

func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// LiveMessage is one server-sent event's data: a change (type and the ids
// to refresh), or type "reset" when the client must reload everything
// (it resumed from a point no longer kept, or fell behind).
type LiveMessage struct {
	ID      int64           `json:"id"`
	Type    string          `json:"type" schema:"required"`
	At      time.Time       `json:"at"`
	OrderID string          `json:"order_id,omitempty"`
	Data    json.RawMessage `json:"data"`
}

const typeReset = "reset"

func (s *Server) eventRoutes() {
	s.handle(Route{Method: "GET", Path: "/events", Roles: anyRole(), Tag: "live",
		Summary: "Live changes as server-sent events (text/event-stream): each data line is a LiveMessage; " +
			"engineers get only their own orders' changes; resume with the Last-Event-ID header (or last_event_id)",
		Query: []string{"last_event_id"}, Response: "EventStream"}, s.streamEvents)
}

func (s *Server) streamEvents(c *gin.Context) {
	hub := s.cfg.Live
	if hub == nil {
		s.fail(c, fmt.Errorf("%w: live updates", errNotConfigured))
		return
	}
	from := int64(-1)
	for _, v := range []struct{ name, val string }{{"last_event_id", c.Query("last_event_id")}, {"Last-Event-ID", c.GetHeader("Last-Event-ID")}} {
		if v.val == "" {
			continue
		}
		n, err := strconv.ParseInt(v.val, 10, 64)
		if err != nil || n < 0 {
			s.fail(c, workorders.Invalid(v.name, "must be a non-negative integer (an event id this stream sent)"))
			return
		}
		from = n
	}
	ctx := c.Request.Context()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	sub, low, err := hub.subscribe(wctx)
	cancel()
	if err != nil {
		writeError(c, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	defer hub.unsubscribe(sub)
	u := userOf(c)

	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A stream outlives any server write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	st := &stream{w: w, user: u}
	st.comment("retry: 2000\n")

	// Replay what the client missed (or, for a new stream, what the hub
	// delivered above the watermark before this stream subscribed).
	resume := from
	if resume < 0 {
		resume = low
	}
	replayed, ok := s.replayLive(ctx, hub, st, resume, low)
	if !ok {
		return
	}
	beat := time.NewTicker(hub.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if !st.comment(": ping\n\n") {
				return
			}
		case m, open := <-sub.ch:
			if !open {
				if sub.overflow {
					st.send(LiveMessage{Type: typeReset, At: time.Now().UTC()}, st.mark)
				}
				return
			}
			if _, dup := replayed[m.ev.ID]; dup {
				continue
			}
			if !st.event(m.ev, m.mark) {
				return
			}
		}
	}
}

// replayLive sends the events above from; it returns the ids sent (to skip
// when the hub delivers them too) and false when the stream broke.
func (s *Server) replayLive(ctx context.Context, hub *Hub, st *stream, from, low int64) (map[int64]struct{}, bool) {
	replayed := map[int64]struct{}{}
	st.mark = from
	first, last, err := hub.src.LiveBounds(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "live events: bounds", "err", err)
		return replayed, st.send(LiveMessage{Type: typeReset, At: time.Now().UTC()}, low)
	}
	// Pruned past the client's position, a position from another
	// database, or too far behind: the client reloads everything.
	if (first > 0 && from < first-1) || from > last || low-from > int64(hub.MaxReplay) {
		st.mark = low
		return replayed, st.send(LiveMessage{Type: typeReset, At: time.Now().UTC()}, low)
	}
	evs, err := hub.src.LiveAfter(ctx, from, hub.MaxReplay)
	if err != nil {
		s.log.WarnContext(ctx, "live events: replay", "err", err)
		return replayed, st.send(LiveMessage{Type: typeReset, At: time.Now().UTC()}, low)
	}
	for _, e := range evs {
		replayed[e.ID] = struct{}{}
		if !st.event(e, max(st.mark, min(e.ID, low))) {
			return replayed, false
		}
	}
	if !st.flush() {
		return replayed, false
	}
	return replayed, true
}

// stream writes server-sent events.
type stream struct {
	w    gin.ResponseWriter
	user workorders.User
	mark int64 // the last id: line sent
}

func (st *stream) event(e workorders.LiveEvent, mark int64) bool {
	if !e.VisibleTo(st.user) {
		if e.OfferChange() {
			return st.send(LiveMessage{ID: e.ID, Type: workorders.LiveOffersChanged, At: e.At, OrderID: e.OrderID,
				Data: json.RawMessage(`{"id":"` + e.OrderID + `"}`)}, mark)
		}
		return true
	}
	return st.send(LiveMessage{ID: e.ID, Type: e.Type, At: e.At, OrderID: e.OrderID, Data: e.Data}, mark)
}

func (st *stream) send(m LiveMessage, mark int64) bool {
	if len(m.Data) == 0 {
		m.Data = json.RawMessage("{}")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return false
	}
	st.mark = max(st.mark, mark)
	if _, err := fmt.Fprintf(st.w, "id: %d\ndata: %s\n\n", st.mark, b); err != nil {
		return false
	}
	return st.flush()
}

func (st *stream) comment(s string) bool {
	if _, err := st.w.WriteString(s); err != nil {
		return false
	}
	return st.flush()
}

func (st *stream) flush() bool {
	st.w.Flush()
	return true
}
