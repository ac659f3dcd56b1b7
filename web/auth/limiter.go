package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter is a token bucket per client address that only failed logins
// drain: a person who types the password right is never slowed down, a
// guesser is held to the refill rate. It lives in memory: each server limits
// on its own, and the per-account lock-out (in the database) is the
// cluster-wide guard.
type ipLimiter struct {
	every rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastPrune time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newIPLimiter(every rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{every: every, burst: burst, buckets: map[string]*bucket{}}
}

// allowed reports whether ip may try to log in at now, and if not, how long
// it must wait.
func (l *ipLimiter) allowed(ip string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		return 0, true
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return 0, true
	}
	wait := time.Duration((1 - tokens) / float64(l.every) * float64(time.Second))
	return max(wait, time.Second), false
}

// fail takes a token from ip's bucket.
func (l *ipLimiter) fail(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[ip] = b
	}
	b.lim.AllowN(now, 1)
	b.last = now
	l.prune(now)
}

// prune drops buckets that have refilled completely, once a minute.
func (l *ipLimiter) prune(now time.Time) {
	if now.Sub(l.lastPrune) < time.Minute {
		return
	}
	l.lastPrune = now
	full := time.Duration(float64(l.burst) / float64(l.every) * float64(time.Second))
	for ip, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, ip)
		}
	}
}
