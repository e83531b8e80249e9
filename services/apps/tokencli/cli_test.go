package tokencli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthexchange/services/platform/auth"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func TestRun(t *testing.T) {
	// The development network's issuer is not a default here.
	t.Setenv("HX_STATE", t.TempDir())
	dir := filepath.Join(t.TempDir(), "issuer")
	key := filepath.Join(dir, "issuer.key")
	issueArgs := func(extra ...string) []string {
		return append([]string{"issue", "-key", key, "-iss", "https://idp.dev.example", "-aud", "records", "-sub", "dr-alice"}, extra...)
	}

	// The cases run in order: keygen first, the others use its key.
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: exitUsage, wantStderr: "Usage: hxtoken COMMAND"},
		{name: "help", args: []string{"-h"}, wantCode: exitOK, wantStderr: "Usage: hxtoken COMMAND"},
		{name: "unknown command", args: []string{"mint"}, wantCode: exitUsage, wantStderr: `unknown command "mint"`},
		{name: "keygen help", args: []string{"keygen", "-h"}, wantCode: exitOK, wantStderr: "-dir"},
		{name: "keygen without dir", args: []string{"keygen"}, wantCode: exitUsage, wantStderr: "--dir is required"},
		{name: "keygen with a stray argument", args: []string{"keygen", "-dir", dir, "extra"}, wantCode: exitUsage, wantStderr: `unexpected arguments [extra]`},
		{name: "keygen", args: []string{"keygen", "-dir", dir}, wantCode: exitOK, wantStdout: "issuer.pub"},
		{name: "keygen again refuses to overwrite", args: []string{"keygen", "-dir", dir}, wantCode: exitError, wantStderr: "already exists"},
		{name: "issue help", args: []string{"issue", "-h"}, wantCode: exitOK, wantStderr: "-role"},
		{name: "issue with an unknown flag", args: []string{"issue", "-bogus"}, wantCode: exitUsage, wantStderr: "-bogus"},
		{name: "issue without key", args: []string{"issue", "-iss", "x", "-aud", "records", "-sub", "dr-alice", "-role", "patient"}, wantCode: exitUsage, wantStderr: "--key is required"},
		{name: "issue without role", args: issueArgs(), wantCode: exitUsage, wantStderr: "--role is required"},
		{name: "issue with an unknown role", args: issueArgs("-role", "admin", "-org", "ProvidersMSP"), wantCode: exitUsage, wantStderr: `unknown role "admin"`},
		{name: "clinician without org", args: issueArgs("-role", "clinician"), wantCode: exitUsage, wantStderr: "requires an org"},
		{name: "researcher without study", args: issueArgs("-role", "researcher", "-org", "ResearchMSP"), wantCode: exitUsage, wantStderr: "requires a study"},
		{name: "negative ttl", args: issueArgs("-role", "patient", "-ttl", "-1h"), wantCode: exitUsage, wantStderr: "--ttl must be positive"},
		{name: "bad ttl", args: issueArgs("-role", "patient", "-ttl", "soon"), wantCode: exitUsage, wantStderr: "-ttl"},
		{name: "missing key file", args: []string{"issue", "-key", filepath.Join(dir, "nope.key"), "-iss", "x", "-aud", "records", "-sub", "dr-alice", "-role", "patient"}, wantCode: exitError, wantStderr: "nope.key"},
		{name: "public key given as the key", args: []string{"issue", "-key", filepath.Join(dir, "issuer.pub"), "-iss", "x", "-aud", "records", "-sub", "dr-alice", "-role", "patient"}, wantCode: exitError, wantStderr: "not one PKCS #8 PEM block"},
		{name: "issue", args: issueArgs("-role", "clinician", "-org", "ProvidersMSP"), wantCode: exitOK, wantStdout: "eyJ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", &stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.wantStderr)
			}
			if tt.wantStdout == "" && stdout.Len() > 0 {
				t.Errorf("unexpected stdout %q", &stdout)
			}
			if tt.wantStderr == "" && tt.wantCode == exitOK && stderr.Len() > 0 {
				t.Errorf("unexpected stderr %q", &stderr)
			}
		})
	}
}

// The whole loop a demo runs: keygen, issue, and a service verifying the
// printed token with the public key.
func TestKeygenIssueVerify(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := Run(t.Context(), []string{"keygen", "-dir", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("keygen exit %d: %s", code, &errOut)
	}
	fi, err := os.Stat(filepath.Join(dir, "issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("issuer.key mode %v, want 0600", perm)
	}

	out.Reset()
	args := []string{"issue", "-key", filepath.Join(dir, "issuer.key"), "-iss", "https://idp.dev.example", "-aud", "research",
		"-sub", "res-carol", "-role", "researcher", "-org", "ResearchMSP", "-study", "study-42", "-ttl", "10m"}
	if code := Run(t.Context(), args, &out, &errOut); code != exitOK {
		t.Fatalf("issue exit %d: %s", code, &errOut)
	}
	token := strings.TrimSuffix(out.String(), "\n")

	cfg := auth.NewConfig()
	cfg.Audience = "research"
	cfg.Issuers = map[string]auth.Issuer{"https://idp.dev.example": {Keys: []string{filepath.Join(dir, "issuer.pub")},
		Org: "ResearchMSP", Roles: []auth.Role{auth.RoleResearcher}}}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.Subject != "res-carol" || p.Role != auth.RoleResearcher || p.Org != "ResearchMSP" || p.StudyID != "study-42" {
		t.Fatalf("Principal %+v", p)
	}
}
