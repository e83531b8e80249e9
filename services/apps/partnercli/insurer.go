package partnercli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/apps/internal/clikit"
)

// RunInsurer runs one command of the insurer's app; the result is the
// process exit code.
func RunInsurer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runInsurer(ctx, args, os.Stdin, stdout, stderr)
}

func runInsurer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &opts{in: stdin, out: stdout}
	app := &clikit.App{
		Name:    "insurer",
		Summary: "the insurer's app: check a claim's documents against the notary.",
		Common:  o.common,
		Commands: []clikit.Command{
			{Name: "verify", Summary: "check a submitted claim and its documents against the notary",
				Args: "--claim FILE [--document FILE]...",
				Help: "Check the claim (FILE, a FHIR Claim as the hospital filed it) and each supporting --document against the\n" +
					"ledger's notarizations, by their hashes alone: no record is read and no consent is needed. Each is\n" +
					"reported NOTARIZED (with its version and when) or NOT NOTARIZED; a document changed after it was filed\n" +
					"is not notarized.\n\n" +
					"Prints VALID when every document is notarized, else NOT VALID; exit 1 when not valid.", Flags: o.verifyClaim},
		},
		Footer: footer,
	}
	return app.Run(ctx, args, stderr)
}

// files is a repeatable flag.
type files []string

func (f *files) String() string     { return fmt.Sprint(*f) }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

// maxDocuments bounds the documents of one claim.
const maxDocuments = 50

func (o *opts) verifyClaim(fs *flag.FlagSet) func(context.Context, []string) error {
	claim := fs.String("claim", "", "the claim's FHIR JSON file, exactly as filed")
	var documents files
	fs.Var(&documents, "document", "a supporting document's FHIR JSON file, exactly as filed (repeat for each)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if *claim == "" {
			return clikit.Usagef("--claim is required")
		}
		if len(documents) > maxDocuments {
			return clikit.Usagef("at most %d documents", maxDocuments)
		}
		names := append([]string{*claim}, documents...)
		contents := make([][]byte, len(names))
		for i, name := range names {
			if name == "-" {
				return clikit.Usagef("give files, not standard input")
			}
			b, err := clikit.ReadResource(o.in, name)
			if err != nil {
				return err
			}
			contents[i] = b
		}
		c, err := o.client(false)
		if err != nil {
			return err
		}
		answers := make([]*recordsv1.VerifyRecordResponse, len(contents))
		valid := true
		for i, b := range contents {
			answers[i] = &recordsv1.VerifyRecordResponse{}
			if err := c.Call(ctx, "POST", "/v1/records:verify", &recordsv1.VerifyRecordRequest{Resource: b}, answers[i]); err != nil {
				return err
			}
			valid = valid && answers[i].GetMatch()
		}
		if o.json {
			for _, r := range answers {
				if err := clikit.Show(o.out, true, r, nil); err != nil {
					return err
				}
			}
		} else {
			verdict := "VALID"
			if !valid {
				verdict = "NOT VALID"
			}
			fmt.Fprintln(o.out, verdict)
			for i, r := range answers {
				what := "document"
				if i == 0 {
					what = "claim"
				}
				if m := r.GetMatches(); r.GetMatch() && len(m) > 0 {
					v := m[len(m)-1]
					fmt.Fprintf(o.out, "%s\t%s\tNOTARIZED version %d at %s\n", what, names[i], v.GetVersion(), v.GetNotarizedAt())
				} else {
					fmt.Fprintf(o.out, "%s\t%s\tNOT NOTARIZED (sha256 %s): not as filed\n", what, names[i], r.GetSha256())
				}
			}
		}
		if !valid {
			return errNotValid
		}
		return nil
	}
}
