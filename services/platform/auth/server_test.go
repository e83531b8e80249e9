package auth_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"healthexchange/services/platform/auth"
)

// The test service, hx.test.v1.WhoAmI, answers with who the interceptor
// says is calling: Unary and Public once, Stream as a server stream. Relay
// asks another server's Unary, forwarding the caller's token.
const (
	methodUnary  = "/hx.test.v1.WhoAmI/Unary"
	methodPublic = "/hx.test.v1.WhoAmI/Public"
	methodRelay  = "/hx.test.v1.WhoAmI/Relay"
	methodStream = "/hx.test.v1.WhoAmI/Stream"
	methodCheck  = "/grpc.health.v1.Health/Check"
)

var streamDesc = grpc.StreamDesc{StreamName: "Stream", ServerStreams: true}

type whoAmI struct {
	calls atomic.Int32     // handler invocations
	next  *grpc.ClientConn // where Relay goes
}

func describe(ctx context.Context) string {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return "anonymous"
	}
	return fmt.Sprintf("%s %s org=%s study=%s", p.Role, p.Subject, p.Org, p.StudyID)
}

func (w *whoAmI) unaryHandler(method string, h func(ctx context.Context) (string, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: method[len("/hx.test.v1.WhoAmI/"):],
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			handler := func(ctx context.Context, _ any) (any, error) {
				w.calls.Add(1)
				out, err := h(ctx)
				if err != nil {
					return nil, err
				}
				return wrapperspb.String(out), nil
			}
			if interceptor == nil {
				return handler(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, handler)
		},
	}
}

func (w *whoAmI) desc() *grpc.ServiceDesc {
	who := func(ctx context.Context) (string, error) { return describe(ctx), nil }
	relay := func(ctx context.Context) (string, error) {
		out := new(wrapperspb.StringValue)
		if err := w.next.Invoke(ctx, methodUnary, wrapperspb.String(""), out); err != nil {
			return "", err
		}
		return "via relay: " + out.GetValue(), nil
	}
	return &grpc.ServiceDesc{
		ServiceName: "hx.test.v1.WhoAmI",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{w.unaryHandler(methodUnary, who), w.unaryHandler(methodPublic, who), w.unaryHandler(methodRelay, relay)},
		Streams: []grpc.StreamDesc{{
			StreamName:    streamDesc.StreamName,
			ServerStreams: true,
			Handler: func(_ any, stream grpc.ServerStream) error {
				w.calls.Add(1)
				if err := stream.RecvMsg(new(wrapperspb.StringValue)); err != nil {
					return err
				}
				return stream.SendMsg(wrapperspb.String(describe(stream.Context())))
			},
		}},
	}
}

// serve runs the test service and the health service behind the auth
// interceptors on an in-memory listener; creds nil means no TLS.
func serve(t *testing.T, v *auth.Verifier, svc *whoAmI, creds credentials.TransportCredentials) *bufconn.Listener {
	t.Helper()
	public := auth.WithPublicMethods(methodCheck, methodPublic)
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(v, public)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(v, public)),
	}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	srv.RegisterService(svc.desc(), svc)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis
}

// dial connects to lis; with tlsCfg nil the connection has no transport
// security.
func dial(t *testing.T, lis *bufconn.Listener, tlsCfg *tls.Config, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	opts = append(opts,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(creds),
	)
	conn, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func call(ctx context.Context, conn *grpc.ClientConn, method string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(ctx, method, wrapperspb.String(""), out, opts...)
	return out.GetValue(), err
}

// streamOnce opens the test stream, sends one message and returns the reply.
func streamOnce(ctx context.Context, conn *grpc.ClientConn) (string, error) {
	stream, err := conn.NewStream(ctx, &streamDesc, methodStream)
	if err != nil {
		return "", err
	}
	// io.EOF from SendMsg means the server ended the stream; RecvMsg has why.
	if err := stream.SendMsg(wrapperspb.String("")); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if err := stream.CloseSend(); err != nil {
		return "", err
	}
	out := new(wrapperspb.StringValue)
	if err := stream.RecvMsg(out); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}
