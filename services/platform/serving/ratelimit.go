package serving

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"healthexchange/services/platform/mtls"
)

// Rate is a sustained number of calls per second and the burst allowed
// above it.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Limiter is a token bucket per key (a principal, a client address): each
// key may make Burst calls at once and PerSecond after. Keys idle long
// enough to have a full bucket are forgotten, so a million keys do not stay.
// It is safe for concurrent use.
type Limiter struct {
	rate Rate
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter of r; it refuses a rate that is not
// positive.
func NewLimiter(r Rate) (*Limiter, error) {
	if r.PerSecond <= 0 || r.Burst < 1 {
		return nil, fmt.Errorf("rate limit: %v per second with a burst of %d: both must be positive", r.PerSecond, r.Burst)
	}
	return &Limiter{rate: r, now: time.Now, buckets: map[string]*bucket{}}, nil
}

// Allow takes one call from key's bucket; when it is empty, it says how
// long until the next call would be allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.rate.Burst), at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(l.rate.Burst), b.tokens+now.Sub(b.at).Seconds()*l.rate.PerSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate.PerSecond * float64(time.Second))
	return false, wait
}

// sweep forgets the buckets that are full again, at most once a minute.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	full := time.Duration(float64(l.rate.Burst) / l.rate.PerSecond * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.at) > full {
			delete(l.buckets, k)
		}
	}
}

// Throttle is Allow as a gRPC answer: nil, or ResourceExhausted with the
// wait in the "retry-after" header (seconds, rounded up; the gateway
// answers 429 with Retry-After).
func (l *Limiter) Throttle(ctx context.Context, key, what string) error {
	ok, wait := l.Allow(key)
	if ok {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.Itoa(secs)))
	return status.Errorf(codes.ResourceExhausted, "too many %s: try again in %d s", what, secs)
}

// ClientAddress is who a public call comes from, for rate limits: for a
// call a service's gateway relays, the address the gateway saw (the last
// entry of x-forwarded-for: the ones before it are the client's own
// claims), else the caller's own address.
func ClientAddress(ctx context.Context) string {
	if id, err := mtls.PeerIdentity(ctx); err == nil && id.Kind == mtls.KindService {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if fwd := md.Get("x-forwarded-for"); len(fwd) > 0 {
				parts := strings.Split(fwd[len(fwd)-1], ",")
				return "fwd:" + strings.TrimSpace(parts[len(parts)-1])
			}
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host, _, err := net.SplitHostPort(p.Addr.String())
		if err == nil {
			return host
		}
		return p.Addr.String()
	}
	return "unknown"
}
