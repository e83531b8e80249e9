package cliniciancli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/apps/internal/apiclient"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
	"healthexchange/wearables/mhealth"
)

// Limits of ReadReadings (ingest.proto).
const (
	// maxVitalsSpan is the longest time range one read covers.
	maxVitalsSpan = 7 * 24 * time.Hour
	// maxVitalsLimit is the most readings one read returns.
	maxVitalsLimit = 100_000
	// maxVitalsBytes bounds the answer: maxVitalsLimit readings of a few
	// hundred bytes of JSON each, above apiclient's default.
	maxVitalsBytes = 64 << 20
)

// kindNames lists the kinds a reading may have, for the help.
var kindNames = func() string {
	names := make([]string, 0, len(mhealth.Kinds()))
	for _, k := range mhealth.Kinds() {
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}()

// ingestServerFlag defines --ingest-server on fs.
func ingestServerFlag(fs *flag.FlagSet) *string {
	return fs.String("ingest-server", devenv.ServerURL("ingest"), "the ingest service's HTTP/JSON gateway ($HX_INGEST_URL, else the development network's)")
}

// isSet reports that the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func readingsPath(patient string) string {
	return "/v1/patients/" + url.PathEscape(patient) + "/readings"
}

func (o *opts) vitals(fs *flag.FlagSet) func(context.Context, []string) error {
	server := ingestServerFlag(fs)
	patient := fs.String("patient", "", "the patient")
	kind := fs.String("kind", "", "one kind of reading: "+kindNames+" (default: every kind)")
	fromFlag := fs.String("from", "", "the first time, RFC 3339, inclusive (instead of --last)")
	toFlag := fs.String("to", "", "the end, RFC 3339, exclusive (default: now; needs --from)")
	last := fs.Duration("last", 24*time.Hour, "read the readings of this long up to now, at most 168h (instead of --from and --to)")
	limit := fs.Int("limit", 0, fmt.Sprintf("at most this many readings, 1 to %d (default: the service's, 10000)", maxVitalsLimit))
	purpose := fs.String("purpose", "", "purpose of use (default: treatment)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if err := requirePatient(*patient); err != nil {
			return err
		}
		if *kind != "" {
			if _, err := mhealth.ParseKind(*kind); err != nil {
				return clikit.Usagef("--kind %q: must be one of %s", *kind, kindNames)
			}
		}
		if *limit < 0 || *limit > maxVitalsLimit {
			return clikit.Usagef("--limit must be 1 to %d", maxVitalsLimit)
		}
		from, to, err := vitalsWindow(o.now(), *fromFlag, *toFlag, *last, isSet(fs, "from"), isSet(fs, "to"), isSet(fs, "last"))
		if err != nil {
			return err
		}
		c, err := o.clientOf("ingest", "--ingest-server", *server, apiclient.WithMaxResponseBytes(maxVitalsBytes))
		if err != nil {
			return err
		}
		q := url.Values{}
		q.Set("from", from.UTC().Format(time.RFC3339Nano))
		q.Set("to", to.UTC().Format(time.RFC3339Nano))
		if *kind != "" {
			q.Set("kind", *kind)
		}
		if *purpose != "" {
			q.Set("purpose", *purpose)
		}
		if *limit > 0 {
			q.Set("limit", strconv.Itoa(*limit))
		}
		resp := &ingestv1.ReadReadingsResponse{}
		if err := c.Call(ctx, "GET", readingsPath(*patient)+"?"+q.Encode(), nil, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintln(w, "TIME\tKIND\tVALUE\tUNIT\tDEVICE\tSEQ\tINDEX")
			for _, r := range resp.GetReadings() {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.GetTime(), r.GetKind(), readingValue(r), r.GetUnit(), r.GetDeviceId(), r.GetSeq(), r.GetIndex())
			}
			if n := len(resp.GetReadings()); n == 1 {
				fmt.Fprintln(w, "1 reading")
			} else {
				fmt.Fprintf(w, "%d readings\n", n)
			}
			if resp.GetTruncated() {
				fmt.Fprintln(w, "(truncated: more matched; raise --limit)")
			}
		})
	}
}

// vitalsWindow is the time range vitals reads: --from to --to (default
// now), or the --last D up to now (D defaults to 24h when no flag is given).
func vitalsWindow(now time.Time, fromText, toText string, last time.Duration, fromSet, toSet, lastSet bool) (from, to time.Time, err error) {
	switch {
	case lastSet && (fromSet || toSet):
		return from, to, clikit.Usagef("give --last or --from (and --to), not both")
	case toSet && !fromSet:
		return from, to, clikit.Usagef("--to needs --from")
	case fromSet:
		if from, err = time.Parse(time.RFC3339Nano, fromText); err != nil {
			return from, to, clikit.Usagef("--from %q is not an RFC 3339 time (2006-01-02T15:04:05Z)", fromText)
		}
		to = now
		if toSet {
			if to, err = time.Parse(time.RFC3339Nano, toText); err != nil {
				return from, to, clikit.Usagef("--to %q is not an RFC 3339 time (2006-01-02T15:04:05Z)", toText)
			}
		}
	default:
		if last <= 0 || last > maxVitalsSpan {
			return from, to, clikit.Usagef("--last %v: must be positive and at most %v", last, maxVitalsSpan)
		}
		from, to = now.Add(-last), now
	}
	if !from.Before(to) {
		return from, to, clikit.Usagef("--from %s must be before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > maxVitalsSpan {
		return from, to, clikit.Usagef("--from to --to is %v, one read covers at most %v", to.Sub(from), maxVitalsSpan)
	}
	return from, to, nil
}

// readingValue is a reading's value as printed: systolic/diastolic for
// blood pressure, the shortest exact decimal otherwise.
func readingValue(r *ingestv1.Reading) string {
	v := strconv.FormatFloat(r.GetValue(), 'f', -1, 64)
	if r.GetKind() == mhealth.BloodPressure.String() {
		return v + "/" + strconv.FormatFloat(r.GetDiastolic(), 'f', -1, 64)
	}
	return v
}
