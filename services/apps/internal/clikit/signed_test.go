package clikit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthexchange/services/platform/ledger"
)

func TestSignedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signed.json")
	s := ledger.Signed{Payload: `{"op":"x","\u003c":"é"}`, Signature: "c2ln"}
	if err := WriteSigned(path, s); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi, err)
	}
	if err := WriteSigned(path, s); err == nil {
		t.Fatal("overwrote a signed file")
	}
	got, err := ReadSigned(nil, path)
	if err != nil || got != s {
		t.Fatalf("%+v %v: the payload's bytes must come back exactly", got, err)
	}
	got, err = ReadSigned(strings.NewReader(`{"payload":"p","signature":"s"}`), "-")
	if err != nil || got.Payload != "p" {
		t.Fatalf("stdin: %+v %v", got, err)
	}
	for name, bad := range map[string]string{
		"empty":          ``,
		"no signature":   `{"payload":"p"}`,
		"another field":  `{"payload":"p","signature":"s","key":"k"}`,
		"two objects":    `{"payload":"p","signature":"s"}{}`,
		"not an object":  `["p","s"]`,
		"a huge payload": `{"payload":"` + strings.Repeat("a", maxSignedFile) + `","signature":"s"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadSigned(strings.NewReader(bad), "-"); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzParseSigned(f *testing.F) {
	f.Add([]byte(`{"payload":"p","signature":"s"}`))
	f.Add([]byte(`{"payload":"","signature":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSigned(data)
		if err == nil && (s.Payload == "" || s.Signature == "") {
			t.Fatal("accepted an empty payload or signature")
		}
	})
}
