package clikit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	recordsv1 "healthexchange/proto/records/v1"
)

func TestShow(t *testing.T) {
	resp := &recordsv1.VerifyRecordResponse{Match: true, Reason: "matches version 1"}
	text := func(w io.Writer) {
		fmt.Fprintf(w, "MATCH\nsha256\t%s\nreason\t%s\n", resp.GetSha256(), resp.GetReason())
	}
	tests := map[string]struct {
		asJSON   bool
		m        any
		wantText string         // exactly, without --json
		wantJSON map[string]any // decoded, with --json
	}{
		"text, its columns aligned": {
			m: resp, wantText: "MATCH\nsha256  \nreason  matches version 1\n",
		},
		"a proto message as JSON, with the unset fields": {
			asJSON: true, m: resp,
			wantJSON: map[string]any{"match": true, "sha256": "", "reason": "matches version 1", "matches": []any{}},
		},
		"anything else as JSON": {
			asJSON: true, m: map[string]string{"patientId": "pat-1", "keyFile": "k.json"},
			wantJSON: map[string]any{"patientId": "pat-1", "keyFile": "k.json"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Show(&out, tc.asJSON, tc.m, text); err != nil {
				t.Fatal(err)
			}
			if !tc.asJSON {
				if diff := cmp.Diff(tc.wantText, out.String()); diff != "" {
					t.Errorf("text (-want +got):\n%s", diff)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			if diff := cmp.Diff(tc.wantJSON, got); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
			if !bytes.Contains(out.Bytes(), []byte("\n  ")) || !bytes.HasSuffix(out.Bytes(), []byte("}\n")) {
				t.Errorf("want indented JSON ending in a newline:\n%q", out.String())
			}
		})
	}
}

// failingWriter fails every write, as a closed pipe would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestShowReportsAWriteFailure(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		if err := Show(failingWriter{}, asJSON, &recordsv1.VerifyRecordResponse{}, func(w io.Writer) { io.WriteString(w, "x\n") }); err == nil {
			t.Errorf("json %v: no error writing to a closed pipe", asJSON)
		}
	}
}
