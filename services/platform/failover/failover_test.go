package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

func TestNotConnected(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, refused := (&net.Dialer{}).DialContext(context.Background(), "tcp", addr)
	tests := map[string]struct {
		err  error
		want bool
	}{
		"a refused dial":        {refused, true},
		"unroutable, wrapped":   {fmt.Errorf("put: %w", syscall.EHOSTUNREACH), true},
		"an unknown name":       {&net.DNSError{Err: "no such host", Name: "x.invalid"}, true},
		"a reset after sending": {&net.OpError{Op: "read", Err: syscall.ECONNRESET}, false},
		"the answer cut off":    {io.ErrUnexpectedEOF, false},
		"a deadline":            {context.DeadlineExceeded, false},
		"anything else":         {errors.New("500 internal error"), false},
	}
	for name, tc := range tests {
		if got := NotConnected(tc.err); got != tc.want {
			t.Errorf("%s (%v): NotConnected = %v, want %v", name, tc.err, got, tc.want)
		}
	}
}
