package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
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

// clientLimiters holds one token bucket per client.
type clientLimiters struct {
	cfg RateLimit
	mu  sync.Mutex // guards m
	m   map[string]*clientLimiter
}

type clientLimiter struct {
	lim  *rate.Limiter
	seen time.Time
}

func newClientLimiters(cfg RateLimit) *clientLimiters {
	return &clientLimiters{cfg: cfg, m: map[string]*clientLimiter{}}
}

func (l *clientLimiters) get(client string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl, ok := l.m[client]
	if !ok {
		if len(l.m) >= 50000 {
			// Forget clients idle long enough to have a full bucket again.
			full := time.Duration(l.cfg.Burst) * max(l.cfg.Every, time.Second)
			for k, v := range l.m {
				if now.Sub(v.seen) > full {
					delete(l.m, k)
				}
			}
			if len(l.m) >= 50000 {
				l.m = map[string]*clientLimiter{}
			}
		}
		cl = &clientLimiter{lim: rate.NewLimiter(l.cfg.limit(), max(l.cfg.Burst, 1))}
		l.m[client] = cl
	}
	cl.seen = now
	return cl.lim
}

// blocked reports whether client has no event left now (without using one)
// and how long until it has.
func (l *clientLimiters) blocked(client string, now time.Time) (bool, time.Duration) {
	if l.cfg.Every <= 0 {
		return false, 0
	}
	lim := l.get(client, now)
	if lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, l.cfg.Every
}

// use spends one event of client's bucket and reports whether it had one.
func (l *clientLimiters) use(client string, now time.Time) bool {
	if l.cfg.Every <= 0 {
		return true
	}
	return l.get(client, now).AllowN(now, 1)
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
