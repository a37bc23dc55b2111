package workorders

import (
	"context"
	"time"
)

// IdempotencyWindow is how long an Idempotency-Key is remembered: a request
// repeated with the same key by the same user within it is answered with
// the first answer and applies nothing again.
const IdempotencyWindow = 7 * 24 * time.Hour

// IdempotentRequest is one use of an Idempotency-Key.
type IdempotentRequest struct {
	UserID string
	Key    string
	// Fingerprint identifies the request (method, path and body): the
	// same key with another fingerprint is refused.
	Fingerprint []byte
	Method      string
	Path        string
	// Claim identifies this request's hold on the key (random).
	Claim string
}

// IdempotentRecord is what is remembered of a key's first request.
type IdempotentRecord struct {
	Fingerprint []byte
	Method      string
	Path        string
	// Status is 0 while the first request is still being served (or
	// its answer was lost).
	Status int
	// Applied: the first request's change was committed (in the same
	// transaction as the change).
	Applied     bool
	ContentType string
	Body        []byte
	CreatedAt   time.Time
}

// IdempotencyMark is a request's hold on its Idempotency-Key, carried in
// its context: the store marks the key applied in the transaction that
// appends the order's event, so the key and the change commit together.
type IdempotencyMark struct {
	UserID, Key, Claim string
}

type idemKey struct{}

// WithIdempotencyMark returns ctx carrying m.
func WithIdempotencyMark(ctx context.Context, m IdempotencyMark) context.Context {
	return context.WithValue(ctx, idemKey{}, m)
}

// IdempotencyMarkFrom returns the mark ctx carries, if any.
func IdempotencyMarkFrom(ctx context.Context) (IdempotencyMark, bool) {
	m, ok := ctx.Value(idemKey{}).(IdempotencyMark)
	return m, ok
}
