package vault_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"healthexchange/services/platform/vault"
)

func TestParseHeader(t *testing.T) {
	v, _ := memVault(t)
	sealed := seal(t, v, "alice", "records/1", record(100))
	header := sealed[:vault.HeaderSize]
	withByte := func(i int, b byte) []byte {
		c := bytes.Clone(header)
		c[i] = b
		return c
	}
	zeroID := bytes.Clone(header)
	clear(zeroID[5 : 5+vault.KeyIDSize])

	t.Run("valid", func(t *testing.T) {
		for name, b := range map[string][]byte{"whole object": sealed, "header only": header} {
			h, err := vault.ParseHeader(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if h.Version != vault.FormatVersion || !bytes.Equal(h.KeyID[:], header[5:21]) || !bytes.Equal(h.Nonce[:], header[21:33]) {
				t.Errorf("%s: parsed %+v from % x", name, h, header)
			}
		}
	})
	for _, tc := range []struct {
		name  string
		input []byte
		want  string
	}{
		{"nil", nil, "0 bytes, shorter than the 33-byte header"},
		{"one byte", header[:1], "1 bytes, shorter than the 33-byte header"},
		{"one byte short", header[:vault.HeaderSize-1], "32 bytes, shorter than the 33-byte header"},
		{"not a vault object", []byte(strings.Repeat("{\"json\": true}", 4)), "not a vault object"},
		{"magic changed", withByte(1, 'h'), "not a vault object"},
		{"version 0", withByte(4, 0), "unsupported format version 0"},
		{"version 2", withByte(4, 2), "unsupported format version 2"},
		{"version 255", withByte(4, 255), "unsupported format version 255"},
		{"zero key id", zeroID, "zero key id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := vault.ParseHeader(tc.input)
			if !errors.Is(err, vault.ErrMalformed) {
				t.Fatalf("ParseHeader = %+v, %v; want ErrMalformed", h, err)
			}
			if !strings.HasPrefix(err.Error(), "vault: malformed object: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestKeyIDText(t *testing.T) {
	var id vault.KeyID
	for i := range id {
		id[i] = byte(i * 17)
	}
	text, err := id.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back vault.KeyID
	if err := back.UnmarshalText(text); err != nil || back != id {
		t.Fatalf("round trip of %s = %s, %v", text, back, err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("zz", vault.KeyIDSize), strings.Repeat("00", vault.KeyIDSize+1)} {
		if err := back.UnmarshalText([]byte(bad)); !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("UnmarshalText(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
