package ledgerapi

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"a", true},
		{"Patient-7_x.y:z@org", true},
		{"0" + strings.Repeat("x", 127), true},
		{"0" + strings.Repeat("x", 128), false},
		{"", false},
		{"-lead", false},
		{".lead", false},
		{"has space", false},
		{"slash/no", false},
		{"ünïcode", false},
		{"nul\x00", false},
		{"line\n", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			err := ValidateID("patientId", tc.id)
			if (err == nil) != tc.ok || err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "patientId")) {
				t.Fatalf("ValidateID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
		})
	}
	if err := ValidateOptionalID("subjectOrg", ""); err != nil {
		t.Fatalf("empty optional id: %v", err)
	}
	if err := ValidateOptionalID("subjectOrg", " "); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad optional id: %v", err)
	}
}

func TestValidateHashAndKey(t *testing.T) {
	hash := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"hash", ValidateHash("sha256", hash), true},
		{"uppercase hash", ValidateHash("sha256", strings.ToUpper(hash)), false},
		{"short hash", ValidateHash("sha256", hash[1:]), false},
		{"key", ValidatePublicKey("publicKey", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), true},
		{"key without padding", ValidatePublicKey("publicKey", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"), false},
		{"url-safe key", ValidatePublicKey("publicKey", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="), false},
		{"short key", ValidatePublicKey("publicKey", "AAAA"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.err == nil) != tc.ok || tc.err != nil && !errors.Is(tc.err, ErrInvalid) {
				t.Fatalf("err = %v, want ok=%v", tc.err, tc.ok)
			}
		})
	}
}

func TestTimes(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"2030-01-02T03:04:05Z", "2030-01-02T03:04:05Z"},
		{"2030-01-02T05:04:05.120+02:00", "2030-01-02T03:04:05.12Z"},
		{"2030-01-02T03:04:05.000000001Z", "2030-01-02T03:04:05.000000001Z"},
		{"", ""},
	} {
		if got, err := CanonicalTime("at", tc.in); err != nil || got != tc.want {
			t.Errorf("CanonicalTime(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"2030-01-02", "2030-01-02 03:04:05Z", "yesterday", "2030-13-01T00:00:00Z"} {
		if _, err := ParseTime("at", bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "at") {
			t.Errorf("ParseTime(%q) = %v, want an invalid-input error naming the field", bad, err)
		}
	}
	if got := FormatTime(time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))); got != "2030-01-02T02:04:05.000000006Z" {
		t.Errorf("FormatTime = %q", got)
	}
}
