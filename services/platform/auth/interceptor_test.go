package auth_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"healthexchange/services/platform/auth"
)

func TestUnaryInterceptor(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Now = time.Now // the server's clock, for tokens issued just now
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := f.edToken(t, claims(map[string]any{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))
	expired := f.edToken(t, claims(map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}))
	researcher := f.esToken(t, claims(map[string]any{"iss": researchIdP, "sub": "res-carol", "role": "researcher", "org": "ResearchMSP", "study": "study-42", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))

	svc := &whoAmI{}
	conn := dial(t, serve(t, v, svc, nil), nil)

	tests := []struct {
		name     string
		method   string
		md       []string // authorization values, in order
		want     string
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "no token", method: methodUnary, wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "empty bearer", method: methodUnary, md: []string{"Bearer "}, wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "another scheme", method: methodUnary, md: []string{"Basic " + good}, wantCode: codes.Unauthenticated, wantMsg: "Bearer <jwt>"},
		{name: "token without scheme", method: methodUnary, md: []string{good}, wantCode: codes.Unauthenticated, wantMsg: "Bearer <jwt>"},
		{name: "garbage token", method: methodUnary, md: []string{"Bearer not.a.jwt"}, wantCode: codes.Unauthenticated, wantMsg: "invalid token"},
		{name: "expired token", method: methodUnary, md: []string{"Bearer " + expired}, wantCode: codes.Unauthenticated, wantMsg: "token expired"},
		{name: "two tokens", method: methodUnary, md: []string{"Bearer " + good, "Bearer " + good}, wantCode: codes.Unauthenticated, wantMsg: "want one"},
		{name: "good token", method: methodUnary, md: []string{"Bearer " + good}, want: "clinician dr-alice org=ProvidersMSP study="},
		{name: "scheme in lower case", method: methodUnary, md: []string{"bearer " + good}, want: "clinician dr-alice org=ProvidersMSP study="},
		{name: "researcher token (ES256)", method: methodUnary, md: []string{"Bearer " + researcher}, want: "researcher res-carol org=ResearchMSP study=study-42"},
		{name: "public method without a token", method: methodPublic, want: "anonymous"},
		{name: "public method ignores a bad token", method: methodPublic, md: []string{"Bearer not.a.jwt"}, want: "anonymous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			for _, v := range tt.md {
				ctx = metadata.AppendToOutgoingContext(ctx, auth.MetadataKey, v)
			}
			before := svc.calls.Load()
			got, err := call(ctx, conn, tt.method)
			if tt.wantCode != codes.OK {
				st := status.Convert(err)
				if st.Code() != tt.wantCode || !strings.Contains(st.Message(), tt.wantMsg) {
					t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
				}
				if n := svc.calls.Load() - before; n != 0 {
					t.Fatalf("handler ran %d times for a rejected call", n)
				}
				if strings.Contains(st.Message(), good) || strings.Contains(st.Message(), expired) {
					t.Fatalf("status message repeats the token: %q", st.Message())
				}
				return
			}
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if got != tt.want {
				t.Fatalf("handler saw %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("health check needs no token", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(conn).Check(testContext(t), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health status %v", resp.GetStatus())
		}
	})
	t.Run("health watch is not public", func(t *testing.T) {
		stream, err := healthpb.NewHealthClient(conn).Watch(testContext(t), &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("Watch without a token: %v, want Unauthenticated", err)
		}
	})
}

func TestStreamInterceptor(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Now = time.Now
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := f.edToken(t, claims(map[string]any{"iss": patientsIdP, "sub": "patient-7f3a", "role": "patient", "org": nil, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))
	svc := &whoAmI{}
	conn := dial(t, serve(t, v, svc, nil), nil)

	tests := []struct {
		name     string
		md       []string
		want     string
		wantCode codes.Code
	}{
		{name: "no token", wantCode: codes.Unauthenticated},
		{name: "bad token", md: []string{"Bearer " + good[:len(good)-4]}, wantCode: codes.Unauthenticated},
		{name: "good token", md: []string{"Bearer " + good}, want: "patient patient-7f3a org= study="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			for _, v := range tt.md {
				ctx = metadata.AppendToOutgoingContext(ctx, auth.MetadataKey, v)
			}
			before := svc.calls.Load()
			got, err := streamOnce(ctx, conn)
			if tt.wantCode != codes.OK {
				if status.Code(err) != tt.wantCode {
					t.Fatalf("got %v, want %v", err, tt.wantCode)
				}
				if n := svc.calls.Load() - before; n != 0 {
					t.Fatalf("handler ran %d times for a rejected stream", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got != tt.want {
				t.Fatalf("handler saw %q, want %q", got, tt.want)
			}
		})
	}
}
