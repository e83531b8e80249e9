// Package researchercli is the researcher's command-line app: it asks the
// research service for an anonymized dataset of the researcher's study,
// follows the job, lists the researcher's datasets and downloads a released
// file, checking its SHA-256 against the manifest before keeping it.
//
// The token is never printed, and a downloaded file whose hash does not match
// is never kept.
package researchercli

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"

	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/apps/internal/apiclient"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
)

// Run runs one command; the result is the process exit code (0 ok, 1 the
// command failed or the dataset failed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &opts{out: stdout, errOut: stderr, poll: time.Second}
	return o.app().Run(ctx, args, stderr)
}

type opts struct {
	server, ca, token string
	json              bool
	out, errOut       io.Writer
	poll              time.Duration
}

func (o *opts) app() *clikit.App {
	return &clikit.App{
		Name:    "researcher",
		Summary: "the researcher's app for the health exchange's anonymized datasets.",
		Common:  o.common,
		Commands: []clikit.Command{
			{Name: "create", Summary: "ask for a dataset of your study",
				Args: "--study S --categories C,... --from T --to T --k N [--kinds K,...] [--fields F,...] [--readings daily|window|raw] [--dates year|shift] [--max-suppression F] [--request-id R] [--wait]",
				Help: "Ask for an anonymized dataset of your study (--study, the study id of your token) from the patients whose active consent\n" +
					"covers research for it. The service answers at once with the dataset id; --wait follows the job until it is\n" +
					"released or failed (exit 1 if failed).", Flags: o.create},
			{Name: "status", Summary: "show a dataset's state, progress and manifest", Args: "DATASET", Flags: o.status},
			{Name: "wait", Summary: "wait until a dataset is released or failed", Args: "DATASET", Flags: o.wait},
			{Name: "list", Summary: "list your datasets of your study, newest first", Args: "", Flags: o.list},
			{Name: "download", Summary: "download a released file, checked against its SHA-256",
				Args: "DATASET [--file csv|ndjson|manifest] --out FILE",
				Help: "Fetch one file of a released dataset from a short-lived URL the service signs, check its SHA-256 against the\n" +
					"one the service recorded, and only then write it to --out (mode 0600).", Flags: o.download},
		},
		Footer: "Every command takes --help. Common flags: --server (or HX_RESEARCH_URL), --ca, --token (or HX_TOKEN), --json.\n\n" +
			"Exit codes: 0 ok, 1 the command failed (wait, create --wait: the dataset failed), 2 usage.\n",
	}
}

func (o *opts) common(fs *flag.FlagSet) {
	fs.StringVar(&o.server, "server", devenv.ServerURL("research"), "the research service's HTTP/JSON gateway ($HX_RESEARCH_URL, else the development network's)")
	fs.StringVar(&o.ca, "ca", devenv.CA(), "CA certificate that signed the service's TLS certificate")
	fs.StringVar(&o.token, "token", "", "your bearer token (default: $HX_TOKEN)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
}

func (o *opts) client() (*apiclient.Client, error) {
	tok := cmp.Or(o.token, os.Getenv("HX_TOKEN"))
	if tok == "" {
		return nil, errors.New("no bearer token: pass --token or set HX_TOKEN")
	}
	return apiclient.ForApp(apiclient.App{Service: "research", AddressFlag: "--server", BaseURL: o.server, CAFile: o.ca,
		Token: tok, Hint: devenv.UnreachableHint})
}

func (o *opts) show(m proto.Message, text func(w io.Writer)) error {
	return clikit.Show(o.out, o.json, m, text)
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func (o *opts) create(fs *flag.FlagSet) func(context.Context, []string) error {
	study := fs.String("study", "", "your study id (the one in your token; the service refuses any other)")
	categories := fs.String("categories", "", "record categories, comma-separated (vitals: wearable readings)")
	kinds := fs.String("kinds", "", "reading kinds for vitals, comma-separated (default: every kind)")
	fields := fs.String("fields", "", "output columns, comma-separated (default: all)")
	from := fs.String("from", "", "RFC 3339 start of the window")
	to := fs.String("to", "", "RFC 3339 end of the window (exclusive)")
	k := fs.Int("k", 0, "smallest group size, at least 2")
	readings := fs.String("readings", "", "daily, window or raw (default: window with --dates year, daily with shift)")
	dates := fs.String("dates", "", "year (default) or shift")
	maxSup := fs.Float64("max-suppression", 0, "fraction of patients that may be suppressed (default 0.05)")
	requestID := fs.String("request-id", "", "your id of this request: a retry with it returns the same dataset")
	wait := fs.Bool("wait", false, "wait until the dataset is released or failed")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		modes := map[string]researchv1.ReadingsMode{"": 0, "daily": researchv1.ReadingsMode_READINGS_MODE_DAILY,
			"window": researchv1.ReadingsMode_READINGS_MODE_WINDOW, "raw": researchv1.ReadingsMode_READINGS_MODE_RAW}
		rules := map[string]researchv1.DateRule{"": 0, "year": researchv1.DateRule_DATE_RULE_YEAR, "shift": researchv1.DateRule_DATE_RULE_SHIFT}
		mode, okMode := modes[*readings]
		rule, okRule := rules[*dates]
		if !okMode || !okRule {
			return clikit.Usagef("--readings is daily, window or raw; --dates is year or shift")
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		resp := &researchv1.CreateDatasetResponse{}
		req := &researchv1.CreateDatasetRequest{RequestId: *requestID, Spec: &researchv1.DatasetSpec{
			StudyId: *study, Categories: splitList(*categories), ReadingKinds: splitList(*kinds), Fields: splitList(*fields),
			From: *from, To: *to, K: int32(*k), Readings: mode, Dates: rule, MaxSuppression: *maxSup,
		}}
		if err := c.Call(ctx, "POST", "/v1/datasets", req, resp); err != nil {
			return err
		}
		if !*wait {
			return o.show(resp, func(w io.Writer) { printDataset(w, resp.GetDataset()) })
		}
		fmt.Fprintf(o.errOut, "dataset %s queued; waiting\n", resp.GetDataset().GetDatasetId())
		return o.waitFor(ctx, c, resp.GetDataset().GetDatasetId())
	}
}

func (o *opts) get(ctx context.Context, c *apiclient.Client, id string) (*researchv1.Dataset, error) {
	resp := &researchv1.GetDatasetResponse{}
	if err := c.Call(ctx, "GET", "/v1/datasets/"+url.PathEscape(id), nil, resp); err != nil {
		return nil, err
	}
	return resp.GetDataset(), nil
}

func (o *opts) status(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		id, err := clikit.OneArg(args, "DATASET")
		if err != nil {
			return err
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		d, err := o.get(ctx, c, id)
		if err != nil {
			return err
		}
		return o.show(d, func(w io.Writer) { printDataset(w, d) })
	}
}

func (o *opts) wait(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		id, err := clikit.OneArg(args, "DATASET")
		if err != nil {
			return err
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		return o.waitFor(ctx, c, id)
	}
}

// waitFor polls until the dataset is released (printed) or failed (exit 1).
func (o *opts) waitFor(ctx context.Context, c *apiclient.Client, id string) error {
	last := ""
	for {
		d, err := o.get(ctx, c, id)
		if err != nil {
			return err
		}
		switch d.GetState() {
		case researchv1.DatasetState_DATASET_STATE_RELEASED:
			return o.show(d, func(w io.Writer) { printDataset(w, d) })
		case researchv1.DatasetState_DATASET_STATE_FAILED:
			if err := o.show(d, func(w io.Writer) { printDataset(w, d) }); err != nil {
				return err
			}
			return clikit.ErrReported
		}
		p := d.GetProgress()
		if line := fmt.Sprintf("%s %d/%d patients, %d rows", p.GetStage(), p.GetPatientsDone(), p.GetPatientsTotal(), p.GetRows()); line != last && !o.json {
			fmt.Fprintln(o.errOut, "  ...", line)
			last = line
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.poll):
		}
	}
}

func (o *opts) list(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		resp := &researchv1.ListDatasetsResponse{}
		if err := c.Call(ctx, "GET", "/v1/datasets?page_size=100", nil, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "DATASET\tSTATE\tCREATED\tCOHORT\tROWS\tK")
			for _, d := range resp.GetDatasets() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", d.GetDatasetId(), state(d), d.GetCreatedAt(),
					d.GetManifest().GetCohortSize(), d.GetManifest().GetRowsOut(), d.GetSpec().GetK())
			}
			tw.Flush()
		})
	}
}

func (o *opts) download(fs *flag.FlagSet) func(context.Context, []string) error {
	file := fs.String("file", "csv", "csv, ndjson or manifest")
	out := fs.String("out", "", "where to write the file (mode 0600)")
	return func(ctx context.Context, args []string) error {
		id, err := clikit.OneArg(args, "DATASET")
		if err != nil {
			return err
		}
		if *out == "" {
			return clikit.Usagef("--out is required")
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		resp := &researchv1.GetDownloadUrlResponse{}
		if err := c.Call(ctx, "GET", "/v1/datasets/"+url.PathEscape(id)+"/files/"+url.PathEscape(*file)+"/url", nil, resp); err != nil {
			return err
		}
		data, err := fetch(ctx, resp.GetUrl())
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != resp.GetSha256() {
			return fmt.Errorf("the downloaded %s hashes to %s, the service recorded %s: not kept", *file, got, resp.GetSha256())
		}
		if err := os.WriteFile(*out, data, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(o.out, "%s: %d bytes, sha256 %s (matches)\n", *out, len(data), resp.GetSha256())
		return nil
	}
}

// maxDownload bounds a download.
const maxDownload = 4 << 30

// fetch GETs a presigned URL. Only a loopback store is fetched from: the
// development network's MinIO.
func fetch(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("the download URL does not parse: %w", err)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return nil, fmt.Errorf("the download URL is not on this machine (%s): refused", h)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", raw, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download: the store answered %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxDownload))
}

func state(d *researchv1.Dataset) string {
	return strings.ToLower(strings.TrimPrefix(d.GetState().String(), "DATASET_STATE_"))
}

func printDataset(w io.Writer, d *researchv1.Dataset) {
	fmt.Fprintf(w, "dataset %s: %s (study %s, researcher %s, created %s)\n", d.GetDatasetId(), state(d),
		d.GetSpec().GetStudyId(), d.GetResearcher(), d.GetCreatedAt())
	if d.GetError() != "" {
		fmt.Fprintf(w, "  error: %s\n", d.GetError())
	}
	m := d.GetManifest()
	if m == nil {
		p := d.GetProgress()
		fmt.Fprintf(w, "  progress: %s, %d/%d patients, %d rows\n", p.GetStage(), p.GetPatientsDone(), p.GetPatientsTotal(), p.GetRows())
		return
	}
	fmt.Fprintf(w, "  cohort: %d patients with an active research consent (%d consents, set sha256 %s)\n",
		m.GetCohortSize(), m.GetConsentCount(), m.GetConsentSetSha256())
	fmt.Fprintf(w, "  released: %d patients, %d rows (%d rows built, %d patients suppressed)\n",
		m.GetPatientsReleased(), m.GetRowsOut(), m.GetRowsIn(), m.GetPatientsSuppressed())
	fmt.Fprintf(w, "  k: asked %d, smallest group %d; quasi-identifiers %v, levels %v\n",
		m.GetK(), m.GetKAchieved(), m.GetQuasiIdentifiers(), m.GetGeneralizationLevels())
	for r, n := range m.GetExcluded() {
		fmt.Fprintf(w, "  left out: %s: %d\n", r, n)
	}
	for _, f := range m.GetFiles() {
		fmt.Fprintf(w, "  file %s: %d bytes, sha256 %s\n", f.GetName(), f.GetBytes(), f.GetSha256())
	}
	fmt.Fprintf(w, "  manifest sha256 %s, recorded on the ledger in tx %s\n", d.GetReleaseSha256(), d.GetLedgerTxId())
}
