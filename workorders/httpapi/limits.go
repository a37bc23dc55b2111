package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/openpdm/pdm/workorders/keyrate"
)

// RateLimit is a limit per client (by address; behind a proxy set
// TrustedProxies so that X-Forwarded-For names the client).
type RateLimit struct {
	// Every is the steady rate, one event per Every; Burst the events
	// allowed at once. Every <= 0 disables the limit.
	Every time.Duration
	Burst int
}

func (r RateLimit) limit() rate.Limit {
	if r.Every <= 0 {
		return rate.Inf
	}
	return rate.Every(r.Every)
}

// failureLimiter limits failed authentications per client (nil: no limit).
type failureLimiter struct {
	every time.Duration
	lim   *keyrate.Limiter
}

func newFailureLimiter(cfg RateLimit) *failureLimiter {
	if cfg.Every <= 0 {
		return nil
	}
	return &failureLimiter{every: cfg.Every, lim: keyrate.New(cfg.limit(), cfg.Burst)}
}

// blocked reports whether client has no failure left now (without using
// one) and how long to wait.
func (l *failureLimiter) blocked(client string, now time.Time) (bool, time.Duration) {
	if l == nil || !l.lim.Blocked(client, now) {
		return false, 0
	}
	return true, l.every
}

// use spends one failure of client's bucket.
func (l *failureLimiter) use(client string, now time.Time) {
	if l != nil {
		l.lim.AllowAt(client, now)
	}
}

func tooManyFailures(c *gin.Context, wait time.Duration, what string) {
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(max(wait, time.Second).Seconds()))))
	writeError(c, http.StatusTooManyRequests, "rate_limited", what+"; retry later")
	c.Abort()
}

// negativeCache remembers token hashes that were unknown, so that a
// client trying tokens costs no query per attempt.
type negativeCache struct {
	ttl time.Duration
	mu  sync.Mutex // guards m
	m   map[string]time.Time
}

func (n *negativeCache) has(key string, now time.Time) bool {
	if n.ttl <= 0 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	exp, ok := n.m[key]
	return ok && now.Before(exp)
}

func (n *negativeCache) put(key string, now time.Time) {
	if n.ttl <= 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || len(n.m) > 10000 {
		n.m = map[string]time.Time{}
	}
	n.m[key] = now.Add(n.ttl)
}

// ForgetTokens drops every cached token, so that a revocation takes
// effect at once; cmd calls it when any replica announces one.
func (s *Server) ForgetTokens() { s.auth.clear() }
