package feed

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serverHint is how long the server asks us to wait before polling again,
// from Cache-Control max-age or Expires (0 when it says nothing).
func serverHint(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	for _, d := range strings.Split(h.Get("Cache-Control"), ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		if v, ok := strings.CutPrefix(d, "s-maxage="); ok {
			d = "max-age=" + v
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64); err == nil && n > 0 {
				return time.Duration(min(n, 30*24*3600)) * time.Second
			}
			return 0
		}
	}
	if e := h.Get("Expires"); e != "" {
		if t, err := http.ParseTime(e); err == nil && t.After(now) {
			return t.Sub(now)
		}
	}
	return 0
}

// clamp bounds d to [lo, hi].
func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

// jitter moves d at random by up to ±frac of it.
func jitter(d time.Duration, frac float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	delta := (rand.Float64()*2 - 1) * frac * float64(d)
	return d + time.Duration(delta)
}

// successInterval is the time to the next poll after a successful one: the
// feed's interval, lengthened by what the server or the feed asks, within
// [MinInterval, MaxInterval].
func (c Config) successInterval(base, hint, ttl time.Duration) time.Duration {
	d := max(base, hint, ttl)
	return clamp(d, c.MinInterval, c.MaxInterval)
}

// backoff is the wait after the n-th consecutive failure (n ≥ 1): the
// interval doubled per failure up to BackoffMax, and at least what the
// server's Retry-After asks (up to the larger of BackoffMax and MaxInterval).
func (c Config) backoff(base time.Duration, n int, retryAfter time.Duration) time.Duration {
	d := max(base, c.MinInterval)
	for i := 1; i < n && d < c.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.BackoffMax)
	if retryAfter > d {
		d = min(retryAfter, max(c.BackoffMax, c.MaxInterval))
	}
	return d
}

// adaptiveInterval lengthens the interval of a feed whose last poll found
// nothing new (by half, up to MaxInterval) and returns to base when it
// published something.
func (c Config) adaptiveInterval(current, base time.Duration, foundNew bool) time.Duration {
	if foundNew || current < base {
		return base
	}
	return min(current+current/2, c.MaxInterval)
}
