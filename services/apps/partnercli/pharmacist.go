package partnercli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/apps/internal/clikit"
)

// RunPharmacist runs one command of the pharmacist's app; the result is the
// process exit code.
func RunPharmacist(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runPharmacist(ctx, args, os.Stdin, stdout, stderr)
}

func runPharmacist(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &opts{in: stdin, out: stdout}
	app := &clikit.App{
		Name:    "pharmacist",
		Summary: "the pharmacist's app: check a prescription, record a fill.",
		Common:  o.common,
		Commands: []clikit.Command{
			{Name: "verify", Summary: "check a prescription before filling it",
				Args: "--prescription FILE --record R",
				Help: "Check the MedicationRequest in FILE (- for standard input), exactly as the prescriber filed it, against the\n" +
					"notary: that it is the record's latest version, filed by a hospital of the exchange, active, not expired, and how\n" +
					"many of its fills are dispensed (by any pharmacy). Needs the patient's consent to your pharmacy (or you) for\n" +
					"prescriptions, purpose dispensing; the check is in the patient's access log.\n\n" +
					"Prints FILLABLE or NOT FILLABLE with every reason; exit 1 when not fillable.", Flags: o.verifyPrescription},
			{Name: "dispense", Summary: "record one fill of a prescription on the ledger",
				Args: "--prescription FILE --record R --quantity N",
				Help: "Record one fill of the prescription in FILE (its latest version) as your pharmacy: the ledger keeps the record\n" +
					"id, the fill number and the quantity, nothing else. The ledger refuses a fill beyond those the prescription\n" +
					"allows, from any pharmacy, and a fill of a superseded, cancelled or expired prescription.", Flags: o.dispense},
		},
		Footer: footer,
	}
	return app.Run(ctx, args, stderr)
}

// prescriptionFlags are the flags naming a prescription.
func (o *opts) prescriptionFlags(fs *flag.FlagSet) (file, record *string) {
	return fs.String("prescription", "", "the MedicationRequest's JSON file, exactly as filed (- for standard input)"),
		fs.String("record", "", "the prescription's record id")
}

func (o *opts) readPrescription(file, record string) ([]byte, error) {
	if file == "" || record == "" {
		return nil, clikit.Usagef("--prescription and --record are required")
	}
	return clikit.ReadResource(o.in, file)
}

func prescriptionPath(record, action string) string {
	return "/v1/prescriptions/" + url.PathEscape(record) + ":" + action
}

func (o *opts) verifyPrescription(fs *flag.FlagSet) func(context.Context, []string) error {
	file, record := o.prescriptionFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		resource, err := o.readPrescription(*file, *record)
		if err != nil {
			return err
		}
		c, err := o.client(true)
		if err != nil {
			return err
		}
		resp := &recordsv1.VerifyPrescriptionResponse{}
		if err := c.Call(ctx, "POST", prescriptionPath(*record, "verify"), &recordsv1.VerifyPrescriptionRequest{RecordId: *record, Resource: resource}, resp); err != nil {
			return err
		}
		err = o.show(resp, func(w io.Writer) {
			verdict := "FILLABLE"
			if !resp.GetFillable() {
				verdict = "NOT FILLABLE"
			}
			fmt.Fprintf(w, "%s\n", verdict)
			if resp.GetNotarized() {
				fmt.Fprintf(w, "notarized\tversion %d of %d (sha256 %s)\n", resp.GetVersion(), resp.GetLatestVersion(), resp.GetSha256())
				name := resp.GetPrescriberName()
				if !resp.GetPrescriberRegistered() {
					name = "not a hospital of the exchange"
				}
				fmt.Fprintf(w, "prescriber\t%s (%s)\n", resp.GetPrescriberOrg(), name)
				fmt.Fprintf(w, "status\t%s, intent %s\n", resp.GetStatus(), resp.GetIntent())
				until := resp.GetValidUntil()
				if until == "" {
					until = "no end date"
				}
				fmt.Fprintf(w, "valid until\t%s\n", until)
				fmt.Fprintf(w, "fills\t%d of %d dispensed\n", resp.GetDispensed(), resp.GetFills())
			} else {
				fmt.Fprintf(w, "notarized\tno (sha256 %s)\n", resp.GetSha256())
			}
			for _, p := range resp.GetProblems() {
				fmt.Fprintf(w, "problem\t%s\n", p)
			}
		})
		if err != nil {
			return err
		}
		if !resp.GetFillable() {
			return errNotValid
		}
		return nil
	}
}

func (o *opts) dispense(fs *flag.FlagSet) func(context.Context, []string) error {
	file, record := o.prescriptionFlags(fs)
	quantity := fs.Int("quantity", 0, "how much is dispensed, in the prescription's unit (1 to 100000)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if *quantity < 1 || *quantity > 100000 {
			return clikit.Usagef("--quantity must be between 1 and 100000")
		}
		resource, err := o.readPrescription(*file, *record)
		if err != nil {
			return err
		}
		c, err := o.client(true)
		if err != nil {
			return err
		}
		resp := &recordsv1.DispensePrescriptionResponse{}
		req := &recordsv1.DispensePrescriptionRequest{RecordId: *record, Sha256: digest(resource), Quantity: int32(*quantity)}
		if err := c.Call(ctx, "POST", prescriptionPath(*record, "dispense"), req, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintf(w, "DISPENSED fill %d of %d\nprescription\t%s version %d\nquantity\t%d\npharmacy\t%s (%s)\nledger tx\t%s at %s\n",
				resp.GetFill(), resp.GetFills(), resp.GetRecordId(), resp.GetVersion(), resp.GetQuantity(),
				resp.GetOrg(), strings.TrimSpace(resp.GetPharmacist()), resp.GetTxId(), resp.GetDispensedAt())
		})
	}
}
