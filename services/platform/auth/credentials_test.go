package auth_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
	"healthexchange/services/platform/mtls/mtlstest"
)

// tlsPair returns server TLS credentials for "hx.test" and a function making
// client TLS configurations that trust it.
func tlsPair(t *testing.T) (server credentials.TransportCredentials, client func() *tls.Config) {
	t.Helper()
	ca := mtlstest.NewCA(t, "hx-test")
	cert, key := ca.Issue(t, "server", "hx.test")
	serverCfg, err := mtls.ServerConfig(cert, key, "")
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewTLS(serverCfg), func() *tls.Config {
		cfg, err := mtls.ClientConfig(ca.CertFile, "", "", "hx.test")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
}

func TestBearer(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Now = time.Now
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := f.edToken(t, claims(map[string]any{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))
	serverCreds, clientTLS := tlsPair(t)
	secure := serve(t, v, &whoAmI{}, serverCreds)
	plain := serve(t, v, &whoAmI{}, nil)

	t.Run("sent over TLS as a dial option", func(t *testing.T) {
		conn := dial(t, secure, clientTLS(), grpc.WithPerRPCCredentials(auth.Bearer(good)))
		got, err := call(testContext(t), conn, methodUnary)
		if err != nil || got != "clinician dr-alice org=ProvidersMSP study=" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("sent over TLS as a call option", func(t *testing.T) {
		conn := dial(t, secure, clientTLS())
		got, err := call(testContext(t), conn, methodUnary, grpc.PerRPCCredentials(auth.Bearer(good)))
		if err != nil || got != "clinician dr-alice org=ProvidersMSP study=" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("refused as a dial option without TLS", func(t *testing.T) {
		_, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(auth.Bearer(good)))
		if err == nil || !strings.Contains(err.Error(), "transport level security") {
			t.Fatalf("NewClient: %v, want a refusal for lack of transport security", err)
		}
	})
	t.Run("refused as a call option without TLS", func(t *testing.T) {
		conn := dial(t, plain, nil)
		_, err := call(testContext(t), conn, methodUnary, grpc.PerRPCCredentials(auth.Bearer(good)))
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "insecure") {
			t.Fatalf("got %v, want Unauthenticated for an insecure connection", err)
		}
	})
	t.Run("empty token fails the call", func(t *testing.T) {
		conn := dial(t, secure, clientTLS())
		_, err := call(testContext(t), conn, methodUnary, grpc.PerRPCCredentials(auth.Bearer("")))
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "no bearer token") {
			t.Fatalf("got %v, want Unauthenticated", err)
		}
	})
	t.Run("token with a line break fails the call", func(t *testing.T) {
		conn := dial(t, secure, clientTLS())
		_, err := call(testContext(t), conn, methodUnary, grpc.PerRPCCredentials(auth.Bearer(good+"\r\nx-admin: 1")))
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("got %v, want Unauthenticated", err)
		}
	})
}

func TestCredentialsRefuseWithoutConnectionSecurity(t *testing.T) {
	// Outside a gRPC call there is no connection whose security could be
	// checked: the credentials must refuse rather than hand out the token.
	ctx := metadata.NewIncomingContext(testContext(t), metadata.Pairs(auth.MetadataKey, "Bearer a.b.c"))
	for name, c := range map[string]credentials.PerRPCCredentials{"Bearer": auth.Bearer("a.b.c")} {
		t.Run(name, func(t *testing.T) {
			if !c.RequireTransportSecurity() {
				t.Error("RequireTransportSecurity is false")
			}
			md, err := c.GetRequestMetadata(ctx)
			if status.Code(err) != codes.Unauthenticated || md != nil {
				t.Fatalf("got %v, %v; want Unauthenticated and no metadata", md, err)
			}
		})
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Fatal("a bare context has a Principal")
	}
	p := auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}
	got, ok := auth.FromContext(auth.NewContext(context.Background(), p))
	if !ok || got != p {
		t.Fatalf("FromContext = %+v, %v; want %+v", got, ok, p)
	}
}
