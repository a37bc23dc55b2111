package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
)

// IdempotencyStore remembers the first answer to each (user,
// Idempotency-Key) for workorders.IdempotencyWindow.
type IdempotencyStore interface {
	// Claim takes the key for this request (claimed true) or returns the
	// record of its earlier use (Status 0 while that is still running).
	Claim(ctx context.Context, r workorders.IdempotentRequest, window time.Duration) (workorders.IdempotentRecord, bool, error)
	// Finish stores the answer of a claimed key.
	Finish(ctx context.Context, userID, key string, status int, contentType string, body []byte) error
	// Release forgets a claimed key whose request ended in a server error.
	Release(ctx context.Context, userID, key string) error
	// Purge deletes records older than before.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// IdempotencyHeader names the request header; IdempotentReplayHeader is
// set on an answer replayed from an earlier request.
const (
	IdempotencyHeader      = "Idempotency-Key"
	IdempotentReplayHeader = "Idempotent-Replayed"
	maxIdempotencyKey      = 255
	maxStoredAnswer        = 1 << 20
	purgeEvery             = 1000
	// answerLostAfter: a key applied this long ago without a stored
	// answer lost it (the process died between the change and storing
	// the answer).
	answerLostAfter = 30 * time.Second
)

// idempotency is the middleware's state.
type idempotency struct {
	store  IdempotencyStore
	claims atomic.Int64 // counts claims; every purgeEvery-th purges expired keys
}

// idempotent honours Idempotency-Key on an authenticated POST route: the
// same key from the same user within the window replays the first answer
// (and applies nothing again); the same key on another request is a 422;
// a key whose first request is still running is a 409. Server errors are
// not remembered, so that a retry is served afresh.
func (s *Server) idempotent(r Route) gin.HandlerFunc {
	if r.Method != http.MethodPost || len(r.Roles) == 0 || s.cfg.Idempotency == nil {
		return func(c *gin.Context) { c.Next() }
	}
	limit := s.cfg.MaxBodyBytes
	if strings.HasSuffix(r.Path, "/attachments") {
		limit = s.cfg.MaxAttachmentBytes + 64<<10
	}
	return func(c *gin.Context) {
		key := c.GetHeader(IdempotencyHeader)
		if key == "" {
			c.Next()
			return
		}
		if !validIdempotencyKey(key) {
			writeFields(c, http.StatusBadRequest, "bad_request", IdempotencyHeader+": 1-255 printable ASCII characters",
				[]workorders.FieldError{{Field: IdempotencyHeader, Message: "1-255 printable ASCII characters"}})
			c.Abort()
			return
		}
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
		if err != nil {
			s.fail(c, workorders.Invalid("body", "could not be read"))
			c.Abort()
			return
		}
		// Hand the body on unchanged; the route's own limits still apply.
		c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), c.Request.Body))
		u := userOf(c)
		req := workorders.IdempotentRequest{UserID: u.ID, Key: key, Method: r.Method, Path: c.Request.URL.Path,
			Fingerprint: fingerprint(c.Request, body), Claim: rand.Text()}
		ctx := c.Request.Context()
		rec, claimed, err := s.cfg.Idempotency.Claim(ctx, req, workorders.IdempotencyWindow)
		if err != nil {
			s.fail(c, err)
			c.Abort()
			return
		}
		if !claimed {
			s.replay(c, req, rec)
			c.Abort()
			return
		}
		if s.idem.claims.Add(1)%purgeEvery == 0 {
			if _, err := s.cfg.Idempotency.Purge(ctx, time.Now().Add(-workorders.IdempotencyWindow)); err != nil {
				s.log.WarnContext(ctx, "purge idempotency keys", "err", err)
			}
		}
		// The store marks the key applied in the transaction of the change.
		c.Request = c.Request.WithContext(workorders.WithIdempotencyMark(ctx,
			workorders.IdempotencyMark{UserID: u.ID, Key: key, Claim: req.Claim}))
		cw := &captureWriter{ResponseWriter: c.Writer}
		c.Writer = cw
		c.Next()
		// The answer is stored even when the client has gone away.
		bg := context.WithoutCancel(ctx)
		status := cw.Status()
		if status >= 500 || cw.overflow {
			if err := s.cfg.Idempotency.Release(bg, u.ID, key); err != nil {
				s.log.WarnContext(ctx, "release idempotency key", "err", err)
			}
			return
		}
		if err := s.cfg.Idempotency.Finish(bg, u.ID, key, status, cw.Header().Get("Content-Type"), cw.buf.Bytes()); err != nil {
			s.log.WarnContext(ctx, "store idempotent answer", "err", err)
		}
	}
}

func (s *Server) replay(c *gin.Context, req workorders.IdempotentRequest, rec workorders.IdempotentRecord) {
	switch {
	case !bytes.Equal(rec.Fingerprint, req.Fingerprint):
		writeFields(c, http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was used for another request ("+rec.Method+" "+rec.Path+"); use a new key for a new request",
			[]workorders.FieldError{{Field: IdempotencyHeader, Message: "already used for another request"}})
	case rec.Status == 0 && rec.Applied && time.Since(rec.CreatedAt) > answerLostAfter:
		s.replayLost(c, rec)
	case rec.Status == 0:
		writeError(c, http.StatusConflict, "idempotency_key_in_use",
			"the first request with this Idempotency-Key is still being served; retry shortly")
	default:
		c.Header(IdempotentReplayHeader, "true")
		ct := rec.ContentType
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		c.Data(rec.Status, ct, rec.Body)
	}
}

// replayLost answers a request that was applied but whose answer was lost
// (a crash between the change's commit and storing the answer): nothing
// is applied again; the answer is the order as it stands now (for order
// routes) or a note that the request was applied.
func (s *Server) replayLost(c *gin.Context, rec workorders.IdempotentRecord) {
	c.Header(IdempotentReplayHeader, "true")
	if id, ok := orderOfPath(rec.Path); ok {
		if o, err := s.ownOrder(c, id); err == nil {
			c.JSON(http.StatusOK, o)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"applied": true, "message": "this request was applied earlier; its answer was not kept"})
}

// orderOfPath returns the order id of /api/v1/work-orders/{id}/... paths.
func orderOfPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/api/v1/work-orders/")
	if !ok {
		return "", false
	}
	id, _, _ := strings.Cut(rest, "/")
	return id, id != ""
}

func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// fingerprint hashes the method, path and body; a multipart body's random
// boundary is replaced, so a form sent again by a browser (with a new
// boundary) is the same request.
func fingerprint(r *http.Request, body []byte) []byte {
	h := sha256.New()
	io.WriteString(h, r.Method+" "+r.URL.Path+"\n")
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && strings.HasPrefix(ct, "multipart/") && params["boundary"] != "" {
		body = bytes.ReplaceAll(body, []byte(params["boundary"]), []byte("BOUNDARY"))
	}
	h.Write(body)
	return h.Sum(nil)
}

// captureWriter keeps a copy of the answer (up to maxStoredAnswer).
type captureWriter struct {
	gin.ResponseWriter
	buf      bytes.Buffer
	overflow bool
}

func (w *captureWriter) keep(b []byte) {
	if w.overflow {
		return
	}
	if w.buf.Len()+len(b) > maxStoredAnswer {
		w.overflow = true
		w.buf.Reset()
		return
	}
	w.buf.Write(b)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.keep(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.keep([]byte(s))
	return w.ResponseWriter.WriteString(s)
}
