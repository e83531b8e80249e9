package clikit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/ledger"
)

// A signed file carries a payload signed on one person's device to another
// person who sends it: a guardian signs a child's registration at home, and
// the hospital's clinician sends it. It is JSON, {"payload": the exact
// signed bytes, "signature": base64}, and holds no secret.

// signedFile is a signed file's JSON.
type signedFile struct {
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// maxSignedFile bounds a signed file: a payload is at most
// ledgerapi.MaxPayloadBytes, and JSON may escape each byte in 6.
const maxSignedFile = 6*ledgerapi.MaxPayloadBytes + 1024

// WriteSigned writes s to path (mode 0600), refusing to overwrite a file.
func WriteSigned(path string, s ledger.Signed) error {
	data, err := json.MarshalIndent(signedFile(s), "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// ReadSigned reads a signed file (- for stdin): one JSON object with
// exactly the fields payload and signature, both set.
func ReadSigned(stdin io.Reader, path string) (ledger.Signed, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return ledger.Signed{}, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSignedFile+1))
	if err != nil {
		return ledger.Signed{}, err
	}
	if len(data) > maxSignedFile {
		return ledger.Signed{}, fmt.Errorf("%s: larger than a signed payload can be (%d bytes)", path, maxSignedFile)
	}
	return ParseSigned(data)
}

// ParseSigned decodes a signed file's content strictly.
func ParseSigned(data []byte) (ledger.Signed, error) {
	var f signedFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return ledger.Signed{}, fmt.Errorf("not a signed file (JSON with payload and signature): %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ledger.Signed{}, errors.New("not a signed file: something follows its JSON object")
	}
	if f.Payload == "" || f.Signature == "" {
		return ledger.Signed{}, errors.New("not a signed file: payload and signature are both required")
	}
	return ledger.Signed(f), nil
}
