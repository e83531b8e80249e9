package patientcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/domain/patientkey"
)

// A child registered by a hospital: the guardian signs the registration
// with their own key (registerChild), a clinician of the hospital sends it
// (clinician register-minor); at majority the patient signs the claim of
// their entry with a key of their own (claim), and a clinician of the same
// hospital sends it (clinician claim-key). Nothing here talks to a service.

func (o *opts) registerChild(fs *flag.FlagSet) func(context.Context, []string) error {
	child := fs.String("child", "", "the child's patient id, as the hospital registers it")
	majority := fs.String("majority", "", "the day the child comes of age: RFC 3339, or YYYY-MM-DD (midnight UTC); your delegation ends then")
	relationship := fs.String("relationship", "parent", "parent or guardian")
	powers := fs.String("powers", strings.Join(ledgerapi.DelegationPowers, ","), "what you may do for the child, comma-separated: grant, revoke, read, approve (needs grant)")
	id := fs.String("delegation", "", "the delegation's id (default: a random one)")
	out := fs.String("out", "", "write the signed registration here (mode 0600; it holds no secret)")
	return func(_ context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if *out == "" {
			return clikit.Usagef("--out is required: the hospital's clinician sends the file")
		}
		at, err := majorityTime(*majority)
		if err != nil {
			return err
		}
		k, err := o.loadKey()
		if err != nil {
			return err
		}
		delegationID := *id
		if delegationID == "" {
			delegationID = newID("d-")
		}
		m := ledgerapi.MinorRegistration{Header: ledgerapi.Header{Op: ledgerapi.OpMinorRegister, PatientID: *child}, MajorityAt: at,
			DelegationID: delegationID, GuardianID: k.PatientID(), GuardianKey: k.PublicKey(), Relationship: *relationship, Powers: splitList(*powers)}
		if err := m.Validate(); err != nil {
			return clikit.Usagef("%v", err)
		}
		if t, _ := time.Parse(time.RFC3339, at); !t.After(time.Now()) {
			return clikit.Usagef("--majority %s has passed: a patient of age registers their own key", *majority)
		}
		s, err := k.RegisterMinor(m)
		if err != nil {
			return err
		}
		if err := clikit.WriteSigned(*out, s); err != nil {
			return err
		}
		res := map[string]string{"patientId": *child, "guardianId": k.PatientID(), "delegationId": delegationID, "majorityAt": at, "file": *out}
		return o.show(res, func(w io.Writer) {
			fmt.Fprintf(w, "signed, as %s (%s), the registration of %s until %s (delegation %s, may %s)\n", k.PatientID(), *relationship, *child, at,
				delegationID, strings.Join(m.Powers, ","))
			fmt.Fprintf(w, "give %s to the hospital: its clinician registers the child with `clinician register-minor %s`\n", *out, *out)
		})
	}
}

func (o *opts) claim(fs *flag.FlagSet) func(context.Context, []string) error {
	recoveryPath := fs.String("recovery-key", "", "a recovery key's file (from `patient recovery keygen`): it can replace a lost key, after --recovery-delay")
	delay := fs.Duration("recovery-delay", 0, "how long a recovery waits before it takes effect (default 72h; 1s to 720h)")
	out := fs.String("out", "", "write the signed claim here (mode 0600; it holds no secret)")
	return func(_ context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if *out == "" {
			return clikit.Usagef("--out is required: the registering hospital's clinician sends the file")
		}
		k, recoveryKey, err := o.keyWithRecovery(*recoveryPath, *delay)
		if err != nil {
			return err
		}
		s, err := k.ClaimKey(recoveryKey, *delay)
		if err != nil {
			return err
		}
		if _, err := ledgerapi.Parse[ledgerapi.KeyClaim]([]byte(s.Payload)); err != nil {
			return clikit.Usagef("%v", err)
		}
		if err := clikit.WriteSigned(*out, s); err != nil {
			return err
		}
		res := map[string]string{"patientId": k.PatientID(), "publicKey": k.PublicKey(), "file": *out}
		return o.show(res, func(w io.Writer) {
			fmt.Fprintf(w, "signed the claim of %s with your key %s…\n", k.PatientID(), k.PublicKey()[:12])
			fmt.Fprintf(w, "at the hospital that registered you, from your majority on, its clinician sends it: `clinician claim-key %s`\n", *out)
		})
	}
}

// keyWithRecovery is the patient's key and the public key of the recovery
// key at recoveryPath ("" for none), for a registration or a claim.
func (o *opts) keyWithRecovery(recoveryPath string, delay time.Duration) (*patientkey.Key, string, error) {
	recoveryKey := ""
	if recoveryPath != "" {
		rk, err := patientkey.Load(recoveryPath)
		if err != nil {
			return nil, "", err
		}
		recoveryKey = rk.PublicKey()
	} else if delay != 0 {
		return nil, "", clikit.Usagef("--recovery-delay needs --recovery-key")
	}
	k, err := o.loadKey()
	if err != nil {
		return nil, "", err
	}
	if recoveryKey == k.PublicKey() {
		return nil, "", errors.New("the recovery key must not be your key: make one with `patient recovery keygen`")
	}
	return k, recoveryKey, nil
}

// majorityTime is --majority as RFC 3339: a bare date is midnight UTC.
func majorityTime(v string) (string, error) {
	if v == "" {
		return "", clikit.Usagef("--majority is required (the day the child comes of age)")
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return ledgerapi.FormatTime(d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return "", clikit.Usagef("--majority %q: give YYYY-MM-DD or an RFC 3339 time", v)
	}
	return ledgerapi.FormatTime(t), nil
}
