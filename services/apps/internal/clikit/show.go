package clikit

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Show prints an answer to w: m as indented JSON when asJSON (protojson, with
// every field, for a proto.Message; encoding/json otherwise), else what text
// writes, its tab-separated columns aligned.
func Show(w io.Writer, asJSON bool, m any, text func(w io.Writer)) error {
	if asJSON {
		var raw []byte
		var err error
		if pm, ok := m.(proto.Message); ok {
			raw, err = MarshalJSON(pm)
		} else {
			raw, err = json.MarshalIndent(m, "", "  ")
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(raw))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

// MarshalJSON is m as the apps print it with --json: indented, with every
// field, including the unset ones.
func MarshalJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(m)
}
