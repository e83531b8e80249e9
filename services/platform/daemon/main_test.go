package daemon

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeProfile sets every address it is asked for to one port, and counts
// its calls.
type fakeProfile struct {
	path  string
	calls *[]string
}

func (p fakeProfile) DefaultPath() string { return p.path }

func (p fakeProfile) Apply(path, name string, s *Settings) error {
	*p.calls = append(*p.calls, name+"@"+path)
	s.GRPCAddr, s.HTTPAddr = "127.0.0.1:1001", "127.0.0.1:1002"
	s.Issuers = []string{"profile-iss=profile.pem,org=,roles=patient"}
	s.Audience = "from-profile"
	s.LoopbackOnly = true
	return nil
}

func TestConfigure(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "network.json")
	writeFile(t, existing, "{}")
	missing := filepath.Join(dir, "missing.json")

	type result struct {
		grpc, http, audience string
		issuers              []string
		every                time.Duration
	}
	tests := []struct {
		name        string
		defaultPath string
		args        []string
		env         map[string]string
		want        result
		wantApplied []string
		wantErr     string
	}{
		{name: "the profile's default description", defaultPath: existing,
			want:        result{"127.0.0.1:1001", "127.0.0.1:1002", "from-profile", []string{"profile-iss=profile.pem,org=,roles=patient"}, time.Minute},
			wantApplied: []string{"records@" + existing}},
		{name: "no default description: no profile, no error", defaultPath: missing,
			want: result{every: time.Minute}},
		{name: "an explicit description is read even if missing (the profile reports it)", defaultPath: existing, args: []string{"-env", missing},
			want:        result{"127.0.0.1:1001", "127.0.0.1:1002", "from-profile", []string{"profile-iss=profile.pem,org=,roles=patient"}, time.Minute},
			wantApplied: []string{"records@" + missing}},
		{name: "-env=path form", defaultPath: missing, args: []string{"--env=" + existing, "-grpc", "127.0.0.1:9"},
			want:        result{"127.0.0.1:9", "127.0.0.1:1002", "from-profile", []string{"profile-iss=profile.pem,org=,roles=patient"}, time.Minute},
			wantApplied: []string{"records@" + existing}},
		{name: "the environment over the profile, flags over the environment", defaultPath: existing,
			env:         map[string]string{"HX_RECORDS_GRPC": "127.0.0.1:2001", "HX_RECORDS_HTTP": "127.0.0.1:2002", "HX_RECORDS_SWEEP_EVERY": "5m"},
			args:        []string{"-http", "127.0.0.1:3002"},
			want:        result{"127.0.0.1:2001", "127.0.0.1:3002", "from-profile", []string{"profile-iss=profile.pem,org=,roles=patient"}, 5 * time.Minute},
			wantApplied: []string{"records@" + existing}},
		{name: "HX_RECORDS_ENV names the description", defaultPath: missing, env: map[string]string{"HX_RECORDS_ENV": existing},
			want:        result{"127.0.0.1:1001", "127.0.0.1:1002", "from-profile", []string{"profile-iss=profile.pem,org=,roles=patient"}, time.Minute},
			wantApplied: []string{"records@" + existing}},
		{name: "-issuer replaces the profile's issuers", defaultPath: existing,
			args: []string{"-issuer", "a=a.pem,org=,roles=patient", "-issuer", "b=b.pem,org=StMarysMSP,roles=clinician"},
			want: result{"127.0.0.1:1001", "127.0.0.1:1002", "from-profile",
				[]string{"a=a.pem,org=,roles=patient", "b=b.pem,org=StMarysMSP,roles=clinician"}, time.Minute},
			wantApplied: []string{"records@" + existing}},
		{name: "a bad environment value names its variable", defaultPath: missing,
			env: map[string]string{"HX_RECORDS_SWEEP_EVERY": "often"}, wantErr: `HX_RECORDS_SWEEP_EVERY="often"`},
		{name: "an unknown flag", defaultPath: missing, args: []string{"-bogus"}, wantErr: "-bogus"},
		{name: "a stray argument", defaultPath: missing, args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{name: "help", defaultPath: missing, args: []string{"-help"}, wantErr: flag.ErrHelp.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var applied []string
			every := time.Minute
			spec := Spec{Name: "records", Profile: fakeProfile{path: tt.defaultPath, calls: &applied},
				Flags: func(fs *flag.FlagSet) { fs.DurationVar(&every, "sweep-every", every, "how often") }}
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			var stdout, stderr bytes.Buffer
			cfg, err := Configure(spec, tt.args, lookup, &stdout, &stderr)
			if !slices.Equal(applied, tt.wantApplied) {
				t.Errorf("profile applied %v, want %v", applied, tt.wantApplied)
			}
			if tt.wantErr != "" || err != nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || tt.wantErr == "" {
					t.Fatalf("Configure = %v, want an error about %q", err, tt.wantErr)
				}
				return
			}
			var issuers []string
			for name, iss := range cfg.Auth.Issuers {
				issuers = append(issuers, iss.String(name))
			}
			slices.Sort(issuers)
			got := result{cfg.GRPCAddr, cfg.HTTPAddr, cfg.Auth.Audience, issuers, every}
			if got.grpc != tt.want.grpc || got.http != tt.want.http || got.audience != tt.want.audience ||
				!slices.Equal(got.issuers, tt.want.issuers) || got.every != tt.want.every {
				t.Errorf("Configure = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("help names the environment variables and the defaults", func(t *testing.T) {
		var applied []string
		var stdout, stderr bytes.Buffer
		spec := Spec{Name: "records", Profile: fakeProfile{path: existing, calls: &applied}}
		_, err := Configure(spec, []string{"-h"}, func(string) (string, bool) { return "", false }, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("Configure(-h) = %v, want flag.ErrHelp", err)
		}
		for _, want := range []string{"Usage: recordsd", "HX_RECORDS_<FLAG>", "127.0.0.1:1001", "-ledger-connection"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("help does not mention %q:\n%s", want, &stderr)
			}
		}
	})
}

func TestEnvName(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"consent", "grpc"}:        "HX_CONSENT_GRPC",
		{"records", "sweep-every"}: "HX_RECORDS_SWEEP_EVERY",
		{"ingest", "tls-ca"}:       "HX_INGEST_TLS_CA",
	} {
		if got := EnvName(in[0], in[1]); got != want {
			t.Errorf("EnvName(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	var stdout, stderr bytes.Buffer
	spec := Spec{Name: "records", Build: func(context.Context, *Platform) (*Service, error) { return nil, errors.New("unreachable") }}
	if code := run(t.Context(), spec, []string{"-help"}, lookup, &stdout, &stderr); code != exitOK {
		t.Errorf("-help exits %d, want %d", code, exitOK)
	}
	stderr.Reset()
	if code := run(t.Context(), spec, nil, lookup, &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "recordsd: records config: the grpc and http addresses are both required") {
		t.Errorf("no configuration exits %d with %q, want %d and every missing setting", code, &stderr, exitUsage)
	}
}

// The loopback-only rule is the development profile's: a daemon
// configured by flags alone may listen on every interface and reach its
// backends by name, and the profile's rule can be set or lifted by flag.
func TestLoopbackOnlyIsTheProfilesRule(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "network.json")
	writeFile(t, existing, "{}")
	missing := filepath.Join(dir, "missing.json")
	for _, tc := range []struct {
		name        string
		defaultPath string
		args        []string
		want        bool
	}{
		{"the development profile", existing, nil, true},
		{"flags alone", missing, []string{"-grpc", "0.0.0.0:443"}, false},
		{"flags alone, asking for it", missing, []string{"-loopback-only"}, true},
		{"the profile, lifted by flag", existing, []string{"-loopback-only=false"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var applied []string
			spec := Spec{Name: "records", Profile: fakeProfile{path: tc.defaultPath, calls: &applied}}
			var stdout, stderr bytes.Buffer
			cfg, err := Configure(spec, tc.args, func(string) (string, bool) { return "", false }, &stdout, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.LoopbackOnly != tc.want {
				t.Fatalf("LoopbackOnly = %v, want %v", cfg.LoopbackOnly, tc.want)
			}
		})
	}
}
