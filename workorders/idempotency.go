package workorders

import "time"

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
}

// IdempotentRecord is what is remembered of a key's first request.
type IdempotentRecord struct {
	Fingerprint []byte
	Method      string
	Path        string
	// Status is 0 while the first request is still being served.
	Status      int
	ContentType string
	Body        []byte
	CreatedAt   time.Time
}
