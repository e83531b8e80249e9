package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"healthexchange/services/platform/auth"
)

func TestVerify(t *testing.T) {
	f := newFixture(t)
	exp := t0.Add(50 * time.Minute)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, strangerKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile(f.edPubFile)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		token   func(t *testing.T) string
		want    auth.Principal
		wantErr error
	}{
		// Accepted, one per role and per algorithm.
		{
			name: "patient without org",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iss": patientsIdP, "sub": "patient-7f3a", "role": "patient", "org": nil}))
			},
			want: auth.Principal{Subject: "patient-7f3a", Role: auth.RolePatient, Issuer: patientsIdP, ExpiresAt: exp},
		},
		{
			name: "patient with org",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iss": patientsIdP, "sub": "patient-7f3a", "role": "patient"}))
			},
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name: "a patient from a hospital's issuer",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"sub": "patient-7f3a", "role": "patient", "org": nil}))
			},
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:  "clinician",
			token: func(t *testing.T) string { return f.edToken(t, claims(nil)) },
			want:  auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP", Issuer: providersIdP, ExpiresAt: exp},
		},
		{
			name: "pharmacist",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"sub": "ph-bob", "role": "pharmacist"}))
			},
			want: auth.Principal{Subject: "ph-bob", Role: auth.RolePharmacist, Org: "ProvidersMSP", Issuer: providersIdP, ExpiresAt: exp},
		},
		{
			name: "insurer",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iss": insurerIdP, "sub": "claims-desk", "role": "insurer", "org": "InsurerMSP"}))
			},
			want: auth.Principal{Subject: "claims-desk", Role: auth.RoleInsurer, Org: "InsurerMSP", Issuer: insurerIdP, ExpiresAt: exp},
		},
		{
			name: "researcher with study (ES256)",
			token: func(t *testing.T) string {
				return f.esToken(t, claims(map[string]any{"iss": researchIdP, "sub": "res-carol", "role": "researcher", "org": "ResearchMSP", "study": "study-42"}))
			},
			want: auth.Principal{Subject: "res-carol", Role: auth.RoleResearcher, Org: "ResearchMSP", StudyID: "study-42", Issuer: researchIdP, ExpiresAt: exp},
		},

		// An issuer speaks for its own organisation, in its own roles.
		{
			name: "a role the issuer may not assert",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"sub": "records-svc", "role": "service"}))
			},
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "another organisation's clinician",
			token:   func(t *testing.T) string { return f.esToken(t, claims(map[string]any{"iss": researchIdP})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "an organisation that is not a member",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"org": "EvilClinicMSP"})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name: "the insurer's issuer claiming a hospital",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iss": insurerIdP, "role": "insurer"}))
			},
			wantErr: auth.ErrInvalidClaims,
		},

		// Lifetime.
		{
			name: "a hundred-year token",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"exp": t0.AddDate(100, 0, 0).Unix()}))
			},
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name: "an hour and a minute",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iat": t0.Unix(), "exp": t0.Add(61 * time.Minute).Unix()}))
			},
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name: "exactly an hour",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix()}))
			},
			want: auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP", Issuer: providersIdP, ExpiresAt: t0.Add(time.Hour)},
		},
		{
			name:    "no iat",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"iat": nil})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name: "aud as a list that includes this service",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"aud": []string{"consent", audience}}))
			},
			want: auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP", Issuer: providersIdP, ExpiresAt: exp},
		},
		{
			name:  "study claim of a non-researcher is dropped",
			token: func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"study": "study-42"})) },
			want:  auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP", Issuer: providersIdP, ExpiresAt: exp},
		},
		{
			name: "expired within the leeway",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"exp": t0.Add(-20 * time.Second).Unix()}))
			},
			want: auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP", Issuer: providersIdP, ExpiresAt: t0.Add(-20 * time.Second)},
		},
		{
			name: "not yet valid within the leeway",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"nbf": t0.Add(20 * time.Second).Unix()}))
			},
			want: auth.Principal{Subject: "dr-alice", Role: auth.RoleClinician, Org: "ProvidersMSP", Issuer: providersIdP, ExpiresAt: exp},
		},

		// Times.
		{
			name: "expired",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"exp": t0.Add(-time.Hour).Unix()}))
			},
			wantErr: auth.ErrExpired,
		},
		{
			name: "expired just past the leeway",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"exp": t0.Add(-31 * time.Second).Unix()}))
			},
			wantErr: auth.ErrExpired,
		},
		{
			name: "not yet valid (nbf)",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"nbf": t0.Add(10 * time.Minute).Unix()}))
			},
			wantErr: auth.ErrNotYetValid,
		},
		{
			name: "issued in the future (iat)",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iat": t0.Add(10 * time.Minute).Unix()}))
			},
			wantErr: auth.ErrNotYetValid,
		},
		{
			name:    "missing exp",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"exp": nil})) },
			wantErr: auth.ErrInvalidClaims,
		},

		// Issuer and audience.
		{
			name: "wrong issuer",
			token: func(t *testing.T) string {
				return f.edToken(t, claims(map[string]any{"iss": "https://idp.evil.example"}))
			},
			wantErr: auth.ErrWrongIssuer,
		},
		{
			name:    "missing issuer",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"iss": nil})) },
			wantErr: auth.ErrWrongIssuer,
		},
		{
			name:    "trusted issuer name, someone else's key",
			token:   func(t *testing.T) string { return sign(t, jwt.SigningMethodEdDSA, strangerKey, claims(nil)) },
			wantErr: auth.ErrInvalidToken,
		},
		{
			name:    "providers' key claiming to be the research issuer",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"iss": researchIdP})) },
			wantErr: auth.ErrInvalidToken,
		},
		{
			name:    "wrong audience",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"aud": "billing"})) },
			wantErr: auth.ErrWrongAudience,
		},
		{
			name:    "missing audience",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"aud": nil})) },
			wantErr: auth.ErrWrongAudience,
		},

		// Algorithms.
		{
			name: "unsigned (alg none)",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))
			},
			wantErr: auth.ErrInvalidToken,
		},
		{
			name: "unsigned (alg NONE, hand made)",
			token: func(t *testing.T) string {
				return handMade(t, map[string]any{"alg": "NONE", "typ": "JWT"}, claims(nil), nil)
			},
			wantErr: auth.ErrInvalidToken,
		},
		{
			name: "no alg header",
			token: func(t *testing.T) string {
				return handMade(t, map[string]any{"typ": "JWT"}, claims(nil), []byte("sig"))
			},
			wantErr: auth.ErrInvalidToken,
		},
		{
			name:    "HS256 with the issuer's public key PEM as the secret",
			token:   func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, pubPEM, claims(nil)) },
			wantErr: auth.ErrInvalidToken,
		},
		{
			name: "HS256 with the issuer's raw public key as the secret",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, []byte(f.ed.PublicKey()), claims(nil))
			},
			wantErr: auth.ErrInvalidToken,
		},
		{
			name:    "RS256",
			token:   func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil)) },
			wantErr: auth.ErrInvalidToken,
		},
		{
			name:    "PS256",
			token:   func(t *testing.T) string { return sign(t, jwt.SigningMethodPS256, rsaKey, claims(nil)) },
			wantErr: auth.ErrInvalidToken,
		},
		{
			name:    "ES256 for an issuer that only has an Ed25519 key",
			token:   func(t *testing.T) string { return f.esToken(t, claims(nil)) },
			wantErr: auth.ErrInvalidToken,
		},
		{
			name: "critical header extension on an otherwise valid token",
			token: func(t *testing.T) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(nil))
				tok.Header["crit"] = []string{"exp"}
				s, err := tok.SignedString(f.edKey)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantErr: auth.ErrInvalidToken,
		},

		// Tampering.
		{
			name: "tampered payload",
			token: func(t *testing.T) string {
				parts := strings.Split(f.edToken(t, claims(map[string]any{"role": "patient", "sub": "patient-7f3a"})), ".")
				parts[1] = segment(t, claims(map[string]any{"role": "clinician", "sub": "patient-7f3a"}))
				return strings.Join(parts, ".")
			},
			wantErr: auth.ErrInvalidToken,
		},
		{
			name: "tampered signature",
			token: func(t *testing.T) string {
				parts := strings.Split(f.edToken(t, claims(nil)), ".")
				sig, err := base64.RawURLEncoding.DecodeString(parts[2])
				if err != nil {
					t.Fatal(err)
				}
				sig[0] ^= 1
				parts[2] = base64.RawURLEncoding.EncodeToString(sig)
				return strings.Join(parts, ".")
			},
			wantErr: auth.ErrInvalidToken,
		},
		{
			name: "signature of another token",
			token: func(t *testing.T) string {
				a := strings.Split(f.edToken(t, claims(map[string]any{"sub": "dr-alice"})), ".")
				b := strings.Split(f.edToken(t, claims(map[string]any{"sub": "dr-mallory"})), ".")
				return a[0] + "." + b[1] + "." + a[2]
			},
			wantErr: auth.ErrInvalidToken,
		},
		{
			name: "signature removed",
			token: func(t *testing.T) string {
				parts := strings.Split(f.edToken(t, claims(nil)), ".")
				return parts[0] + "." + parts[1] + "."
			},
			wantErr: auth.ErrInvalidToken,
		},

		// Claims.
		{
			name:    "missing role",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"role": nil})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "unknown role",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"role": "admin"})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "role in the wrong case",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"role": "Clinician"})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "role of the wrong type",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"role": []string{"clinician"}})) },
			wantErr: auth.ErrInvalidToken,
		},
		{
			name:    "missing org",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"org": nil})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "org that is not an MSP id",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"org": "Providers MSP"})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "org that is not an organisation of the channel",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"org": "GeneralClinicMSP"})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "org in another case",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"org": "providersmsp"})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name: "researcher without study",
			token: func(t *testing.T) string {
				return f.esToken(t, claims(map[string]any{"iss": researchIdP, "role": "researcher", "org": "ResearchMSP"}))
			},
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "missing sub",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"sub": nil})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "sub that is not an id",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"sub": "alice\n[admin]"})) },
			wantErr: auth.ErrInvalidClaims,
		},
		{
			name:    "exp of the wrong type",
			token:   func(t *testing.T) string { return f.edToken(t, claims(map[string]any{"exp": "tomorrow"})) },
			wantErr: auth.ErrInvalidToken,
		},

		// Garbage.
		{name: "empty", token: func(*testing.T) string { return "" }, wantErr: auth.ErrMissingToken},
		{name: "one word", token: func(*testing.T) string { return "not-a-jwt" }, wantErr: auth.ErrInvalidToken},
		{name: "three dots", token: func(*testing.T) string { return "..." }, wantErr: auth.ErrInvalidToken},
		{name: "two empty segments", token: func(*testing.T) string { return ".." }, wantErr: auth.ErrInvalidToken},
		{name: "three junk segments", token: func(*testing.T) string { return "a.b.c" }, wantErr: auth.ErrInvalidToken},
		{name: "scheme left in", token: func(t *testing.T) string { return "Bearer " + f.edToken(t, claims(nil)) }, wantErr: auth.ErrInvalidToken},
		{name: "trailing newline", token: func(t *testing.T) string { return f.edToken(t, claims(nil)) + "\n" }, wantErr: auth.ErrInvalidToken},
		{name: "padded base64", token: func(t *testing.T) string { return padded(f.edToken(t, claims(nil))) }, wantErr: auth.ErrInvalidToken},
		{name: "JSON instead of a JWT", token: func(*testing.T) string { return `{"alg":"none"}` }, wantErr: auth.ErrInvalidToken},
		{name: "binary", token: func(*testing.T) string { return "\x00\xff\xfe.\x01.\x02" }, wantErr: auth.ErrInvalidToken},
		{name: "too long", token: func(*testing.T) string { return strings.Repeat("a", auth.MaxTokenBytes+1) }, wantErr: auth.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			got, err := f.v.Verify(token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("Principal (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error %v, want %v", err, tt.wantErr)
			}
			if got != (auth.Principal{}) {
				t.Errorf("rejected token still produced a Principal %+v", got)
			}
			assertNoTokenIn(t, err.Error(), token)
			t.Logf("rejected: %v", err)
		})
	}
}

// assertNoTokenIn fails if msg repeats the token or any part of it long
// enough to matter.
func assertNoTokenIn(t *testing.T, msg, token string) {
	t.Helper()
	for _, part := range append(strings.Split(token, "."), token) {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Fatalf("message %q repeats the token", msg)
		}
	}
}

// handMade builds a token from a header, claims and raw signature.
func handMade(t *testing.T, header map[string]any, c jwt.MapClaims, sig []byte) string {
	t.Helper()
	return segment(t, header) + "." + segment(t, c) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// padded re-encodes each segment of token with base64 padding.
func padded(token string) string {
	parts := strings.Split(token, ".")
	for i, p := range parts {
		b, _ := base64.RawURLEncoding.DecodeString(p)
		parts[i] = base64.URLEncoding.EncodeToString(b)
	}
	return strings.Join(parts, ".")
}
