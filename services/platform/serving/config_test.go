package serving

import (
	"strings"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		name string
		addr string
		// wantErr is a substring of the error; empty: accepted.
		wantErr string
	}{
		{"IPv4 loopback", "127.0.0.1:27101", ""},
		{"another IPv4 loopback address", "127.0.0.2:27101", ""},
		{"IPv6 loopback", "[::1]:27101", ""},
		{"every interface", "0.0.0.0:27101", "must be a loopback address"},
		{"every IPv6 interface", "[::]:27101", "must be a loopback address"},
		{"public address", "192.0.2.10:27101", "must be a loopback address"},
		{"host name, even localhost", "localhost:27101", "must be a loopback address"},
		{"no host", ":27101", "must be a loopback address"},
		{"no port", "127.0.0.1", "missing port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLoopback("consent", NamedAddr{Name: "grpc address", Addr: tt.addr})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckLoopback(%q) = %v, want nil", tt.addr, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckLoopback(%q) = nil, want an error", tt.addr)
			}
			for _, want := range []string{"consent config: grpc address", tt.addr, tt.wantErr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("CheckLoopback(%q) = %q, want it to mention %q", tt.addr, err, want)
				}
			}
		})
	}
	t.Run("every refused address at once", func(t *testing.T) {
		err := CheckLoopback("records",
			NamedAddr{Name: "grpc address", Addr: "0.0.0.0:1"},
			NamedAddr{Name: "http address", Addr: "127.0.0.1:2"},
			NamedAddr{Name: "consent address", Addr: "example.org:3"})
		if err == nil {
			t.Fatal("CheckLoopback = nil, want two errors")
		}
		for _, want := range []string{`records config: grpc address "0.0.0.0:1"`, `records config: consent address "example.org:3"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("CheckLoopback = %q, want it to mention %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "http address") {
			t.Errorf("CheckLoopback = %q, refuses the loopback http address", err)
		}
	})
}

func TestTLSFilesCheck(t *testing.T) {
	all := TLSFiles{CertFile: "svc.crt", KeyFile: "svc.key", CAFile: "ca.crt"}
	if err := all.Check("consent"); err != nil {
		t.Fatalf("Check = %v, want nil", err)
	}
	for name, change := range map[string]func(*TLSFiles){
		"no certificate": func(f *TLSFiles) { f.CertFile = "" },
		"no key":         func(f *TLSFiles) { f.KeyFile = "" },
		"no CA":          func(f *TLSFiles) { f.CAFile = "" },
	} {
		t.Run(name, func(t *testing.T) {
			f := all
			change(&f)
			err := f.Check("consent")
			if err == nil || !strings.Contains(err.Error(), "consent config: TLS certificate, key and CA are all required") {
				t.Fatalf("Check = %v, want the TLS files required", err)
			}
		})
	}
}
