package cliniciancli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/apps/internal/clikit"
)

// sha256Hex is a SHA-256 as the ledger writes it.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (o *opts) verify(fs *flag.FlagSet) func(context.Context, []string) error {
	record := fs.String("record", "", "check against this record only (default: any record)")
	sum := fs.String("sha256", "", "the SHA-256 (hex) of the resource's bytes as filed, instead of FILE")
	return func(ctx context.Context, args []string) error {
		req := &recordsv1.VerifyRecordRequest{RecordId: *record}
		switch {
		case len(args) > 1:
			return clikit.Usagef("unexpected arguments %v", args[1:])
		case len(args) == 1 && *sum != "":
			return clikit.Usagef("give FILE or --sha256, not both")
		case len(args) == 0 && *sum == "":
			return clikit.Usagef("give FILE (- for standard input) or --sha256")
		case *sum != "":
			req.Sha256 = strings.ToLower(*sum)
			if !sha256Hex.MatchString(req.Sha256) {
				return clikit.Usagef("--sha256 must be 64 hex digits")
			}
		default:
			resource, err := clikit.ReadResource(o.in, args[0])
			if err != nil {
				return err
			}
			req.Resource = resource
		}
		c, err := o.publicClient()
		if err != nil {
			return err
		}
		resp := &recordsv1.VerifyRecordResponse{}
		if err := c.Call(ctx, "POST", "/v1/records:verify", req, resp); err != nil {
			return err
		}
		err = o.show(resp, func(w io.Writer) {
			verdict := "MATCH"
			if !resp.GetMatch() {
				verdict = "NO MATCH"
			}
			fmt.Fprintf(w, "%s\nsha256\t%s\n", verdict, resp.GetSha256())
			if resp.GetReason() != "" {
				fmt.Fprintf(w, "reason\t%s\n", resp.GetReason())
			}
			for _, v := range resp.GetMatches() {
				fmt.Fprintf(w, "notarized\tversion %d at %s\n", v.GetVersion(), v.GetNotarizedAt())
			}
		})
		if err != nil {
			return err
		}
		if !resp.GetMatch() {
			return errNoMatch
		}
		return nil
	}
}
