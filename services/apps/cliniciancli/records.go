package cliniciancli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/apps/internal/clikit"
)

// maxIdempotencyKey is the longest key the service takes (records.proto).
const maxIdempotencyKey = 128

func newIdempotencyKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "put-" + hex.EncodeToString(b)
}

func recordsPath(patient string) string {
	return "/v1/patients/" + url.PathEscape(patient) + "/records"
}

func recordPath(patient, record string) string {
	return recordsPath(patient) + "/" + url.PathEscape(record)
}

func (o *opts) put(fs *flag.FlagSet) func(context.Context, []string) error {
	patient := fs.String("patient", "", "the patient the resource belongs to (its subject must be Patient/<id>)")
	record := fs.String("record", "", "an existing record to add a version to (default: a new record)")
	base := fs.Int("base-version", 0, "the version this update was made from; refused if the record has moved on (default: no check)")
	key := fs.String("idempotency-key", "", "retry key, 1 to 128 characters (default: a random one, printed on stderr)")
	purpose := fs.String("purpose", "", "purpose of use (default: treatment)")
	return func(ctx context.Context, args []string) error {
		file, err := clikit.OneArg(args, "FILE (- for standard input)")
		if err != nil {
			return err
		}
		if err := requirePatient(*patient); err != nil {
			return err
		}
		if *base < 0 {
			return clikit.Usagef("--base-version must not be negative")
		}
		if *base > 0 && *record == "" {
			return clikit.Usagef("--base-version needs --record")
		}
		if len(*key) > maxIdempotencyKey {
			return clikit.Usagef("--idempotency-key is longer than %d characters", maxIdempotencyKey)
		}
		resource, err := clikit.ReadResource(o.in, file)
		if err != nil {
			return err
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		if *key == "" {
			*key = newIdempotencyKey()
			fmt.Fprintf(o.errOut, "idempotency key %s (to retry this put: --idempotency-key %s)\n", *key, *key)
		}
		req := &recordsv1.PutRecordRequest{
			PatientId: *patient, RecordId: *record, Resource: resource,
			IdempotencyKey: *key, BaseVersion: int32(*base), Purpose: *purpose,
		}
		resp := &recordsv1.PutRecordResponse{}
		if err := c.Call(ctx, "POST", recordsPath(*patient), req, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			r := resp.GetRecord()
			fmt.Fprintf(w, "record\t%s\nversion\t%d\nsha256\t%s\ncategory\t%s\ntx\t%s\n",
				r.GetRecordId(), r.GetVersion(), r.GetSha256(), r.GetCategory(), r.GetTxId())
			if resp.GetReplayed() {
				fmt.Fprintln(w, "(replayed: nothing new stored)")
			}
		})
	}
}

func (o *opts) get(fs *flag.FlagSet) func(context.Context, []string) error {
	patient := fs.String("patient", "", "the patient the record belongs to")
	version := fs.Int("version", 0, "the version to read (default: the latest)")
	purpose := fs.String("purpose", "", "purpose of use (default: treatment; emergency with --break-glass)")
	breakGlass := fs.String("break-glass", "", "break-glass access: why consent cannot be asked (recorded on the ledger and shown to the patient)")
	out := fs.String("out", "", "write the resource to this file, mode 0600 (default: stdout)")
	return func(ctx context.Context, args []string) error {
		record, err := clikit.OneArg(args, "RECORD")
		if err != nil {
			return err
		}
		if err := requirePatient(*patient); err != nil {
			return err
		}
		if *version < 0 {
			return clikit.Usagef("--version must not be negative")
		}
		if *breakGlass != "" {
			switch *purpose {
			case "":
				*purpose = "emergency"
			case "emergency":
			default:
				return clikit.Usagef("--break-glass is for purpose emergency, not %q", *purpose)
			}
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		q := url.Values{}
		if *version > 0 {
			q.Set("version", fmt.Sprint(*version))
		}
		if *purpose != "" {
			q.Set("purpose", *purpose)
		}
		if *breakGlass != "" {
			q.Set("break_glass_reason", *breakGlass)
		}
		path := recordPath(*patient, record)
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		resp := &recordsv1.GetRecordResponse{}
		if err := c.Call(ctx, "GET", path, nil, resp); err != nil {
			return err
		}
		content := resp.GetResource()
		if o.json {
			if content, err = clikit.MarshalJSON(resp); err != nil {
				return err
			}
		}
		if *out != "" {
			if err := writeFileAtomic(*out, content); err != nil {
				return err
			}
		} else {
			if isTerminal(o.out) && (len(content) == 0 || content[len(content)-1] != '\n') {
				content = append(content, '\n')
			}
			if _, err := o.out.Write(content); err != nil {
				return err
			}
		}
		r := resp.GetRecord()
		fmt.Fprintf(o.errOut, "record %s version %d sha256 %s verified against the ledger\n", r.GetRecordId(), r.GetVersion(), r.GetSha256())
		if len(resp.GetObligations()) > 0 {
			fmt.Fprintf(o.errOut, "obligations: %v\n", resp.GetObligations())
		}
		return nil
	}
}

func (o *opts) list(fs *flag.FlagSet) func(context.Context, []string) error {
	patient := fs.String("patient", "", "the patient")
	size := fs.Int("page-size", 50, "records per page (1-200)")
	page := fs.String("page-token", "", "from a previous listing")
	all := fs.Bool("all", false, "follow the pages to the end")
	purpose := fs.String("purpose", "", "purpose of use (default: treatment)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if err := requirePatient(*patient); err != nil {
			return err
		}
		if *size < 1 || *size > 200 {
			return clikit.Usagef("--page-size must be 1 to 200")
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		q := url.Values{}
		if *purpose != "" {
			q.Set("purpose", *purpose)
		}
		// With --all the pages add up to one answer, with no next page.
		total := &recordsv1.ListRecordsResponse{}
		seen := map[string]bool{}
		for token := *page; ; {
			resp := &recordsv1.ListRecordsResponse{}
			if err := c.GetPage(ctx, recordsPath(*patient), q, *size, token, resp); err != nil {
				return err
			}
			total.Records = append(total.Records, resp.GetRecords()...)
			total.Withheld += resp.GetWithheld()
			total.NextPageToken = resp.GetNextPageToken()
			if !*all || total.NextPageToken == "" {
				break
			}
			if seen[total.NextPageToken] {
				return fmt.Errorf("the service at %s returned page token %q twice", o.server, total.NextPageToken)
			}
			seen[total.NextPageToken] = true
			token = total.NextPageToken
		}
		return o.show(total, func(w io.Writer) {
			fmt.Fprintln(w, "RECORD\tVERSION\tCATEGORY\tFILED BY\tNOTARIZED")
			for _, r := range total.GetRecords() {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", r.GetRecordId(), r.GetVersion(), r.GetCategory(), r.GetOrg(), r.GetNotarizedAt())
			}
			if n := total.GetWithheld(); n > 0 {
				fmt.Fprintf(w, "%d records withheld (no consent)\n", n)
			}
			if total.GetNextPageToken() != "" {
				fmt.Fprintf(w, "more: --page-token %s (or --all)\n", total.GetNextPageToken())
			}
		})
	}
}

func (o *opts) history(fs *flag.FlagSet) func(context.Context, []string) error {
	patient := fs.String("patient", "", "the patient the record belongs to")
	purpose := fs.String("purpose", "", "purpose of use (default: treatment)")
	return func(ctx context.Context, args []string) error {
		record, err := clikit.OneArg(args, "RECORD")
		if err != nil {
			return err
		}
		if err := requirePatient(*patient); err != nil {
			return err
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		path := recordPath(*patient, record) + "/history"
		if *purpose != "" {
			path += "?" + url.Values{"purpose": {*purpose}}.Encode()
		}
		resp := &recordsv1.GetRecordHistoryResponse{}
		if err := c.Call(ctx, "GET", path, nil, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintln(w, "VERSION\tSHA256\tPREVIOUS SHA256\tFILED BY\tNOTARIZED\tTX")
			for _, v := range resp.GetVersions() {
				prev := v.GetPreviousSha256()
				if prev == "" {
					prev = "-"
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", v.GetVersion(), v.GetSha256(), prev, v.GetOrg()+" ("+v.GetAuthor()+")", v.GetNotarizedAt(), v.GetTxId())
			}
		})
	}
}
