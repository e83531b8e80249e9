package vault_test

import (
	"bytes"
	"errors"
	"testing"

	"healthexchange/services/platform/vault"
)

// FuzzParseHeader: no input makes ParseHeader panic; every rejection wraps
// ErrMalformed; what it accepts is a header of this format, read back field
// by field.
func FuzzParseHeader(f *testing.F) {
	v, _ := memVault(f)
	sealed := seal(f, v, "alice", "records/1", record(64))
	for _, seed := range [][]byte{sealed, sealed[:vault.HeaderSize], sealed[:vault.HeaderSize-1], nil, []byte("\x89HXV"), []byte("\x89HXV\x01"), flip(sealed, 4, 3)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := vault.ParseHeader(b)
		if err != nil {
			if !errors.Is(err, vault.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		switch {
		case len(b) < vault.HeaderSize:
			t.Fatalf("accepted %d bytes, shorter than a header", len(b))
		case string(b[:4]) != "\x89HXV" || b[4] != vault.FormatVersion || h.Version != vault.FormatVersion:
			t.Fatalf("accepted magic % x version %d", b[:4], b[4])
		case h.KeyID.IsZero():
			t.Fatal("accepted a zero key id")
		case !bytes.Equal(h.KeyID[:], b[5:21]) || !bytes.Equal(h.Nonce[:], b[21:33]):
			t.Fatalf("parsed %+v from % x", h, b[:vault.HeaderSize])
		}
	})
}

// FuzzOpen: no input makes Open panic, and nothing opens but the objects
// sealed, each under its own object key; everything else is ErrTampered.
func FuzzOpen(f *testing.F) {
	v, _ := memVault(f)
	ctx := testContext(f)
	objects := map[string][]byte{"records/1": record(64), "records/2": nil}
	sealed := map[string][]byte{}
	for key, plaintext := range objects {
		sealed[key] = seal(f, v, "alice", key, plaintext)
		mustOpen(f, v, "alice", key, sealed[key], plaintext)
	}
	s := sealed["records/1"]
	for _, seed := range [][]byte{s, sealed["records/2"], s[:vault.HeaderSize], s[:len(s)-1], flip(s, 40, 1), flip(s, 10, 1), append(bytes.Clone(s), 0), nil} {
		f.Add("records/1", seed)
		f.Add("records/2", seed)
	}
	f.Fuzz(func(t *testing.T, objectKey string, b []byte) {
		if objectKey == "" {
			objectKey = "records/1"
		}
		got, err := v.Open(ctx, "alice", objectKey, b)
		if err != nil {
			if !errors.Is(err, vault.ErrTampered) && !errors.Is(err, vault.ErrInvalid) {
				t.Fatalf("error wraps neither ErrTampered nor ErrInvalid: %v", err)
			}
			if got != nil {
				t.Fatalf("returned %d bytes with an error", len(got))
			}
			return
		}
		if !bytes.Equal(b, sealed[objectKey]) || !bytes.Equal(got, objects[objectKey]) {
			t.Fatalf("opened %d bytes under %q that Seal did not make", len(b), objectKey)
		}
	})
}
