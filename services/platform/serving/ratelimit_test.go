package serving

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := NewLimiter(Rate{PerSecond: 2, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("alice")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("past the burst: %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow("bob"); !ok {
		t.Fatal("another key shares alice's bucket")
	}
	now = now.Add(500 * time.Millisecond) // one token back at 2/s
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("a token did not come back")
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Fatal("more than the rate")
	}
	// A million distinct keys do not stay once idle.
	for i := range 10000 {
		l.Allow(string(rune(i)))
	}
	now = now.Add(2 * time.Minute)
	l.Allow("x")
	if n := len(l.buckets); n > 2 {
		t.Fatalf("%d buckets kept after they were full again", n)
	}
	if _, err := NewLimiter(Rate{PerSecond: 0, Burst: 1}); err == nil {
		t.Fatal("a zero rate was accepted")
	}
}

func TestThrottle(t *testing.T) {
	l, _ := NewLimiter(Rate{PerSecond: 0.5, Burst: 1})
	ctx := context.Background()
	if err := l.Throttle(ctx, "k", "calls"); err != nil {
		t.Fatal(err)
	}
	err := l.Throttle(ctx, "k", "calls")
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("got %v, want ResourceExhausted", err)
	}
}

func TestClientAddress(t *testing.T) {
	addr := &net.TCPAddr{IP: net.ParseIP("127.0.0.7"), Port: 4242}
	direct := peer.NewContext(context.Background(), &peer.Peer{Addr: addr})
	if got := ClientAddress(direct); got != "127.0.0.7" {
		t.Fatalf("direct caller: %q", got)
	}
	// Without a service certificate, x-forwarded-for is the caller's own
	// claim and is not read.
	spoof := metadata.NewIncomingContext(direct, metadata.Pairs("x-forwarded-for", "10.0.0.1"))
	if got := ClientAddress(spoof); got != "127.0.0.7" {
		t.Fatalf("a direct caller's x-forwarded-for was trusted: %q", got)
	}
}
