package cliniciancli

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/domain/merkle"
	"healthexchange/wearables/mhealth"
)

// errNotVerified is proof's answer "not verified", already printed: exit 1
// with nothing more said.
var errNotVerified = fmt.Errorf("not verified (%w)", clikit.ErrReported)

// readingRef names one reading: what proof asks for.
type readingRef struct {
	patient, device string
	seq             uint64
	index           int
}

func (r readingRef) path() string {
	return readingsPath(r.patient) + "/" + url.PathEscape(r.device) + "/" + strconv.FormatUint(r.seq, 10) + "/" + strconv.Itoa(r.index) + "/proof"
}

func (o *opts) proof(fs *flag.FlagSet) func(context.Context, []string) error {
	server := ingestServerFlag(fs)
	patient := fs.String("patient", "", "the patient")
	device := fs.String("device", "", "the device that sent the reading (vitals: DEVICE)")
	seq := fs.Uint64("seq", 0, "the sequence number of the reading's batch (vitals: SEQ)")
	index := fs.Int("index", 0, "the reading's position in its batch, from 0 (vitals: INDEX)")
	purpose := fs.String("purpose", "", "purpose of use (default: treatment)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if err := requirePatient(*patient); err != nil {
			return err
		}
		if *device == "" || !isSet(fs, "seq") || !isSet(fs, "index") {
			return clikit.Usagef("--device, --seq and --index are required")
		}
		if *seq < 1 {
			return clikit.Usagef("--seq must be at least 1")
		}
		if *index < 0 || *index >= mhealth.MaxReadings {
			return clikit.Usagef("--index must be 0 to %d", mhealth.MaxReadings-1)
		}
		ref := readingRef{patient: *patient, device: *device, seq: *seq, index: *index}
		c, err := o.clientOf("ingest", "--ingest-server", *server)
		if err != nil {
			return err
		}
		path := ref.path()
		if *purpose != "" {
			path += "?" + url.Values{"purpose": {*purpose}}.Encode()
		}
		resp := &ingestv1.GetProofResponse{}
		if err := c.Call(ctx, "GET", path, nil, resp); err != nil {
			return err
		}
		verr := verifyProof(ref, resp)
		a := resp.GetAnchor()
		verdict := fmt.Sprintf("the reading is in the batch device %s signed, and the batch is under the root anchored on the ledger in tx %s",
			ref.device, a.GetTxId())
		if verr != nil {
			verdict = verr.Error()
		}
		if o.json {
			err = o.showProofJSON(resp, verr == nil, verdict)
		} else {
			err = clikit.Show(o.out, false, nil, func(w io.Writer) {
				r := resp.GetReading()
				fmt.Fprintf(w, "reading\t%s\n", describeReading(r))
				fmt.Fprintf(w, "from\tdevice %s, batch %d, reading %d\n", r.GetDeviceId(), r.GetSeq(), r.GetIndex())
				fmt.Fprintf(w, "anchor\t%s\nroot\t%s\nsize\t%d batches (%d readings)\ntx\t%s\nanchored\t%s\n",
					a.GetAnchorId(), a.GetRoot(), a.GetSize(), a.GetReadings(), a.GetTxId(), a.GetAnchoredAt())
				if verr != nil {
					fmt.Fprintf(w, "NOT VERIFIED: %s\n", verdict)
				} else {
					fmt.Fprintf(w, "VERIFIED: %s\n", verdict)
				}
			})
		}
		if err != nil {
			return err
		}
		if verr != nil {
			return errNotVerified
		}
		return nil
	}
}

// showProofJSON prints the answer's fields with "verified" and "reason".
func (o *opts) showProofJSON(resp *ingestv1.GetProofResponse, verified bool, reason string) error {
	raw, err := clikit.MarshalJSON(resp)
	if err != nil {
		return err
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return err
	}
	quoted, err := json.Marshal(reason)
	if err != nil {
		return err
	}
	fields["verified"], fields["reason"] = json.RawMessage(strconv.FormatBool(verified)), quoted
	return clikit.Show(o.out, true, fields, nil)
}

// describeReading is a reading in one line: kind, value, unit, time.
func describeReading(r *ingestv1.Reading) string {
	s := fmt.Sprintf("%s %s %s at %s", r.GetKind(), readingValue(r), r.GetUnit(), r.GetTime())
	if r.GetEndTime() != "" {
		s += " to " + r.GetEndTime()
	}
	return s
}

// verifyProof checks, with nothing but the answer, that the reading ref
// names is the one its device signed and that the signed batch is under the
// anchored root: nil when it is, else why not. The device key and the
// anchor are taken as the service read them from the ledger.
func verifyProof(ref readingRef, resp *ingestv1.GetProofResponse) error {
	r, a := resp.GetReading(), resp.GetAnchor()
	if r == nil || a == nil {
		return errors.New("the answer lacks the reading or the anchor")
	}
	if a.GetAnchorId() == "" || a.GetTxId() == "" {
		return errors.New("the anchor names no ledger anchor id or transaction")
	}
	if r.GetDeviceId() != ref.device || r.GetSeq() != ref.seq || int(r.GetIndex()) != ref.index {
		return fmt.Errorf("the service returned reading %d of batch %d of device %q, not reading %d of batch %d of device %q",
			r.GetIndex(), r.GetSeq(), r.GetDeviceId(), ref.index, ref.seq, ref.device)
	}
	pub, err := base64.StdEncoding.DecodeString(resp.GetDevicePublicKey())
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("device %s's public key %q is not the standard base64 of an Ed25519 key", ref.device, resp.GetDevicePublicKey())
	}
	b, err := mhealth.Verify(ed25519.PublicKey(pub), resp.GetPayload(), resp.GetSignature())
	if err != nil {
		return fmt.Errorf("the batch is not the one device %s signed: %w", ref.device, err)
	}
	if b.DeviceID != ref.device || b.PatientID != ref.patient || b.Seq != ref.seq {
		return fmt.Errorf("the signed batch is batch %d of device %s for patient %s, not batch %d of device %s for patient %s",
			b.Seq, b.DeviceID, b.PatientID, ref.seq, ref.device, ref.patient)
	}
	if ref.index >= len(b.Readings) {
		return fmt.Errorf("the signed batch has %d readings, no reading %d", len(b.Readings), ref.index)
	}
	if err := sameReading(r, b.Readings[ref.index]); err != nil {
		return fmt.Errorf("the reading returned is not the one device %s signed: %w", ref.device, err)
	}
	root, err := merkle.ParseHash(a.GetRoot())
	if err != nil {
		return fmt.Errorf("the anchored root %q: %w", a.GetRoot(), err)
	}
	p := merkle.Proof{Index: int(resp.GetLeafIndex()), Size: int(a.GetSize()), Path: make([]merkle.Hash, len(resp.GetPath()))}
	for i, h := range resp.GetPath() {
		if p.Path[i], err = merkle.ParseHash(h); err != nil {
			return fmt.Errorf("path hash %d %q: %w", i, h, err)
		}
	}
	sum := sha256.Sum256(resp.GetPayload())
	if err := p.Verify(merkle.LeafHash(sum[:]), root, int(a.GetSize())); err != nil {
		return fmt.Errorf("the batch is not under the root of anchor %s: %w", a.GetAnchorId(), err)
	}
	return nil
}

// sameReading reports how got, as the service returned it, differs from
// want, as the device signed it; nil when it does not.
func sameReading(got *ingestv1.Reading, want mhealth.Reading) error {
	at, end := want.TimeFrame.At, time.Time{}
	if want.TimeFrame.IsInterval() {
		at, end = want.TimeFrame.Start, want.TimeFrame.End
	}
	gotAt, err := time.Parse(time.RFC3339Nano, got.GetTime())
	if err != nil {
		return fmt.Errorf("time %q is not an RFC 3339 time", got.GetTime())
	}
	gotEnd := time.Time{}
	if got.GetEndTime() != "" {
		if gotEnd, err = time.Parse(time.RFC3339Nano, got.GetEndTime()); err != nil {
			return fmt.Errorf("end time %q is not an RFC 3339 time", got.GetEndTime())
		}
	}
	signed := &ingestv1.Reading{Kind: want.Kind.String(), Value: want.Value, Diastolic: want.Diastolic, Unit: want.Unit,
		Time: at.Format(time.RFC3339Nano)}
	if !end.IsZero() {
		signed.EndTime = end.Format(time.RFC3339Nano)
	}
	switch {
	case got.GetKind() != signed.Kind || got.GetValue() != signed.Value || got.GetDiastolic() != signed.Diastolic || got.GetUnit() != signed.Unit,
		!gotAt.Equal(at), !gotEnd.Equal(end):
		return fmt.Errorf("returned %s, signed %s", describeReading(got), describeReading(signed))
	}
	return nil
}
