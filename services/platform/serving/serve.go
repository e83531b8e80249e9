package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
)

// Servers are what one service serves.
type Servers struct {
	// Name is the service's name, in errors and in the "<name> service
	// stopping" log line.
	Name string
	Log  *slog.Logger
	// GRPC and its Health service (NewGRPCServer) listen on GRPCAddr; HTTP
	// (Gateway), which must have a TLS configuration, on HTTPAddr. Which
	// addresses are allowed is the configuration's to check.
	GRPC     *grpc.Server
	Health   *health.Server
	GRPCAddr string
	HTTP     *http.Server
	HTTPAddr string
	// Background run beside the servers, each in its own goroutine, with a
	// context that ends only once the servers have stopped.
	Background []func(context.Context)
	// Listening, if set, is called once both addresses are open, before
	// anything runs: the place to say the service is up.
	Listening func()
}

// shutdownTimeout bounds how long the HTTP server waits for requests in
// flight when the service stops.
const shutdownTimeout = 10 * time.Second

// Serve listens on both addresses (or on neither: if the second cannot be
// opened, the first is closed), runs the background functions and serves
// until ctx ends or a server fails. Then it stops cleanly: health checks
// say NOT_SERVING, the HTTP server finishes its requests (at most 10 s), the
// gRPC server its calls, the background functions are stopped and waited
// for. It returns the server's error, or nil when ctx ended.
func Serve(ctx context.Context, s Servers) error {
	if s.HTTP.TLSConfig == nil {
		return errors.New(s.Name + ": the HTTP server has no TLS configuration")
	}
	grpcLis, err := net.Listen("tcp", s.GRPCAddr)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	httpLis, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	if s.Listening != nil {
		s.Listening()
	}

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, run := range s.Background {
		wg.Go(func() { run(bg) })
	}

	errc := make(chan error, 2)
	go func() { errc <- s.GRPC.Serve(grpcLis) }()
	go func() { errc <- s.HTTP.ServeTLS(httpLis, "", "") }()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		runErr = fmt.Errorf("%s: server stopped: %w", s.Name, runErr)
	}
	s.Log.Info(s.Name + " service stopping")
	s.Health.Shutdown()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	s.HTTP.Shutdown(shutdownCtx)
	s.GRPC.GracefulStop()
	stopBackground()
	wg.Wait()
	return runErr
}
