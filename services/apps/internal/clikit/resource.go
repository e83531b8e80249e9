package clikit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// MaxResource is the largest resource the records service takes
// (records.proto: at most 1 MiB).
const MaxResource = 1 << 20

// ReadResource reads the FHIR JSON resource in the file name ("-" for
// standard input), refusing what the service would refuse anyway: too large,
// empty, not JSON.
func ReadResource(stdin io.Reader, name string) ([]byte, error) {
	r, label := stdin, "standard input"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read the resource: %w", err)
		}
		defer f.Close()
		r, label = f, name
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxResource+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the resource from %s: %w", label, err)
	}
	switch {
	case len(b) > MaxResource:
		return nil, fmt.Errorf("%s is larger than 1 MiB, the most a record may hold", label)
	case len(bytes.TrimSpace(b)) == 0:
		return nil, fmt.Errorf("%s is empty; want a FHIR resource (JSON)", label)
	case !json.Valid(b):
		return nil, fmt.Errorf("%s is not JSON; want a FHIR resource (JSON)", label)
	}
	return b, nil
}
