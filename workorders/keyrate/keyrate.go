// Package keyrate keeps a token bucket per key (a client address, a
// sender): the per-key rate limits of the public endpoints and the mail
// intake.
package keyrate

import (
	"sync"

	"golang.org/x/time/rate"
)

// maxKeys bounds memory: at this many keys every bucket is forgotten, and
// a flood from many keys still meets the callers' global limits.
const maxKeys = 100_000

// Limiter allows each key every-per-second events with bursts of burst.
type Limiter struct {
	every rate.Limit
	burst int
	mu    sync.Mutex // guards m
	m     map[string]*rate.Limiter
}

// New returns a Limiter of every events per second and bursts of burst, per key.
func New(every rate.Limit, burst int) *Limiter {
	return &Limiter{every: every, burst: burst, m: map[string]*rate.Limiter{}}
}

// Allow reports whether key may have one more event now.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxKeys {
			l.m = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.m[key] = lim
	}
	return lim.Allow()
}
