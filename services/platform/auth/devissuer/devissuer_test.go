package devissuer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
)

func TestGenerateFilesIssueVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "issuer")
	keyPath, pubPath, err := devissuer.GenerateFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{keyPath: 0o600, pubPath: 0o644, dir: 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, got, want)
		}
	}
	t.Run("refuses to overwrite", func(t *testing.T) {
		if _, _, err := devissuer.GenerateFiles(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("second GenerateFiles: %v, want already exists", err)
		}
	})

	iss, err := devissuer.Load("https://idp.dev.example", keyPath)
	if err != nil {
		t.Fatal(err)
	}
	patients, err := devissuer.Load("https://idp.patients.dev.example", keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.NewConfig()
	cfg.Audience = "records"
	cfg.Issuers = map[string]auth.Issuer{
		iss.Name():      {Keys: []string{pubPath}, Org: "ResearchMSP", Roles: []auth.Role{auth.RoleResearcher}},
		patients.Name(): {Keys: []string{pubPath}, Roles: []auth.Role{auth.RolePatient}},
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		from    *devissuer.Issuer // nil: iss
		claims  devissuer.Claims
		ttl     time.Duration
		want    auth.Principal
		wantErr error
	}{
		{
			name:   "researcher",
			claims: devissuer.Claims{Subject: "res-carol", Audiences: []string{"records"}, Role: auth.RoleResearcher, Org: "ResearchMSP", StudyID: "study-42"},
			ttl:    time.Hour,
			want:   auth.Principal{Subject: "res-carol", Role: auth.RoleResearcher, Org: "ResearchMSP", StudyID: "study-42", Issuer: "https://idp.dev.example"},
		},
		{
			name:   "patient",
			from:   patients,
			claims: devissuer.Claims{Subject: "patient-7f3a", Audiences: []string{"consent", "records"}, Role: auth.RolePatient},
			ttl:    time.Minute,
			want:   auth.Principal{Subject: "patient-7f3a", Role: auth.RolePatient, Issuer: "https://idp.patients.dev.example"},
		},
		{name: "unknown role", claims: devissuer.Claims{Subject: "x", Audiences: []string{"records"}, Role: "admin", Org: "ProvidersMSP"}, ttl: time.Hour, wantErr: auth.ErrInvalidClaims},
		{name: "clinician without org", claims: devissuer.Claims{Subject: "dr-alice", Audiences: []string{"records"}, Role: auth.RoleClinician}, ttl: time.Hour, wantErr: auth.ErrInvalidClaims},
		{name: "researcher without study", claims: devissuer.Claims{Subject: "res-carol", Audiences: []string{"records"}, Role: auth.RoleResearcher, Org: "ResearchMSP"}, ttl: time.Hour, wantErr: auth.ErrInvalidClaims},
		{name: "no audience", claims: devissuer.Claims{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP"}, ttl: time.Hour},
		{name: "zero ttl", claims: devissuer.Claims{Subject: "dr-alice", Audiences: []string{"records"}, Role: auth.RoleClinician, Org: "ProvidersMSP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Truncate(time.Second)
			from := iss
			if tt.from != nil {
				from = tt.from
			}
			tok, err := from.Issue(tt.claims, tt.ttl)
			if tt.want.Subject == "" {
				if err == nil {
					t.Fatal("Issue accepted claims the verifier would reject")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("Issue: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if exp := got.ExpiresAt; exp.Before(before.Add(tt.ttl)) || exp.After(time.Now().Add(tt.ttl)) {
				t.Errorf("expires at %v, want about now + %v", exp, tt.ttl)
			}
			got.ExpiresAt = time.Time{}
			if got != tt.want {
				t.Fatalf("Principal %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	keyPath, pubPath, err := devissuer.GenerateFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, issuer, path, wantErr string
	}{
		{name: "missing file", issuer: "dev", path: filepath.Join(dir, "nope.key"), wantErr: "no such file"},
		{name: "public key instead of private", issuer: "dev", path: pubPath, wantErr: "not one PKCS #8 PEM block (PRIVATE KEY)"},
		{name: "no issuer name", issuer: "", path: keyPath, wantErr: "issuer name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := devissuer.Load(tt.issuer, tt.path); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load: %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}
