// Package keyrate keeps a token bucket per key (a client address, a
// sender): the per-key rate limits of the public endpoints, the mail
// intake and failed authentications.
package keyrate

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds memory: at this many keys the idle ones are forgotten
// (a forgotten key starts again with a full bucket, as it would have by
// now), and if most are busy every bucket is forgotten; a flood from many
// keys still meets the callers' global limits.
const maxKeys = 100_000

// Limiter allows each key every events per second with bursts of burst.
type Limiter struct {
	every rate.Limit
	burst int
	// idle is how long a key must be unused to have a full bucket again.
	idle time.Duration
	mu   sync.Mutex // guards m
	m    map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter of every events per second and bursts of burst, per key.
func New(every rate.Limit, burst int) *Limiter {
	burst = max(burst, 1)
	idle := time.Duration(0)
	switch {
	case every == rate.Inf:
	case every <= 0:
		idle = time.Duration(1<<63 - 1) // never refills: never idle
	default:
		idle = time.Duration(float64(burst) / float64(every) * float64(time.Second))
	}
	return &Limiter{every: every, burst: burst, idle: idle, m: map[string]*bucket{}}
}

// Allow reports whether key may have one more event now, and spends it.
func (l *Limiter) Allow(key string) bool { return l.AllowAt(key, time.Now()) }

// AllowAt reports whether key may have one more event at now, and spends it.
func (l *Limiter) AllowAt(key string, now time.Time) bool {
	return l.get(key, now).AllowN(now, 1)
}

// Blocked reports whether key has no event left at now, without spending
// one.
func (l *Limiter) Blocked(key string, now time.Time) bool {
	return l.get(key, now).TokensAt(now) < 1
}

func (l *Limiter) get(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxKeys {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.m[key] = b
	}
	b.seen = now
	return b.lim
}

// evict forgets the keys idle long enough to have a full bucket again, or
// every key when that frees less than a tenth (so that a scan of the map
// is paid for by many new keys).
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.m {
		if now.Sub(b.seen) >= l.idle {
			delete(l.m, k)
		}
	}
	if len(l.m) > maxKeys*9/10 {
		l.m = map[string]*bucket{}
	}
}
