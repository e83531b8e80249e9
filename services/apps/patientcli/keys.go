package patientcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/apps/internal/apiclient"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// The key's life after registration: rotating it while it is still yours,
// recovering it with the recovery key when it is lost, and stopping a
// recovery you did not ask for. Every command here writes a new key file
// next to the old one (KEY.next) before anything is sent, and moves it over
// the old one only once the ledger has taken the change: a crash or a
// refusal in between loses no key.

// key runs `patient key show|rotate|history`.
func (o *opts) key(*flag.FlagSet) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return clikit.Usagef("want one of: show, rotate, history")
		}
		switch args[0] {
		case "show":
			return o.showPatient(ctx)
		case "rotate":
			return o.rotate(ctx)
		case "history":
			return o.keyHistory(ctx)
		}
		return clikit.Usagef("unknown key command %q: want show, rotate or history", args[0])
	}
}

// recovery runs `patient recovery keygen|request|cancel|complete`.
func (o *opts) recovery(fs *flag.FlagSet) func(context.Context, []string) error {
	recoveryPath := fs.String("recovery-key", "", "the recovery key's file (keygen writes it; request signs with it)")
	id := fs.String("id", "", "your patient id (keygen: default your key's)")
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return clikit.Usagef("want one of: keygen, request, cancel, complete")
		}
		switch args[0] {
		case "keygen":
			return o.recoveryKeygen(*recoveryPath, *id)
		case "request":
			return o.requestRecovery(ctx, *recoveryPath)
		case "cancel":
			return o.cancelRecovery(ctx)
		case "complete":
			return o.completeRecovery(ctx)
		}
		return clikit.Usagef("unknown recovery command %q: want keygen, request, cancel or complete", args[0])
	}
}

func (o *opts) showPatient(ctx context.Context) error {
	g, err := o.gateway()
	if err != nil {
		return err
	}
	resp := &consentv1.GetPatientResponse{}
	if err := g.Call(ctx, "GET", "/v1/patients/me", nil, resp); err != nil {
		return err
	}
	return o.show(resp, func(w io.Writer) { printPatient(w, resp.GetPatient()) })
}

func (o *opts) keyHistory(ctx context.Context) error {
	g, err := o.gateway()
	if err != nil {
		return err
	}
	resp := &consentv1.GetPatientHistoryResponse{}
	if err := g.Call(ctx, "GET", "/v1/patients/me/history", nil, resp); err != nil {
		return err
	}
	return o.show(resp, func(w io.Writer) {
		// Every signed change moves the nonce and writes a version; the
		// text shows the versions that changed the key or a recovery.
		fmt.Fprintln(w, "TIME\tCHANGE\tKEY\tTX")
		var last *consentv1.Patient
		for _, v := range resp.GetVersions() {
			p := v.GetPatient()
			if change := keyChangeOf(last, p); change != "" {
				fmt.Fprintf(w, "%s\t%s\t%s (version %d)\t%s\n", v.GetTimestamp(), change, p.GetPublicKey(), p.GetKeyVersion(), v.GetTxId())
			}
			last = p
		}
	})
}

// rotate replaces the patient's key by a new one, signed by both.
func (o *opts) rotate(ctx context.Context) error {
	current, err := o.loadKey()
	if err != nil {
		return err
	}
	next, err := o.stageNewKey(current.PatientID())
	if err != nil {
		return err
	}
	resp := &consentv1.RotateKeyResponse{}
	var proof string
	err = o.submitAs(ctx, current, o.keyPath, (*consentv1.Patient).GetNonce, func(k *patientkey.Key) (ledger.Signed, error) {
		change, err := k.RotateTo(next)
		proof = change.NewKeySignature
		return change.Signed, err
	}, func(sp *consentv1.SignedPayload) error {
		return o.call(ctx, "POST", "/v1/patients/me:rotate-key", &consentv1.RotateKeyRequest{Rotation: sp, NewKeySignature: proof}, resp)
	})
	if err != nil {
		return o.keepStaged(err)
	}
	if err := o.promote(next); err != nil {
		return err
	}
	return o.show(resp, func(w io.Writer) {
		fmt.Fprintf(w, "your key is replaced; the old one signs nothing from now on. New key saved to %s.\n", o.keyPath)
		printPatient(w, resp.GetPatient())
	})
}

func (o *opts) recoveryKeygen(path, id string) error {
	if path == "" {
		return clikit.Usagef("--recovery-key FILE is required: where to save the recovery key (keep it apart from your key, e.g. on paper or another device)")
	}
	if id == "" {
		k, err := o.loadKey()
		if err != nil {
			return fmt.Errorf("your patient id (from your key, or pass --id): %w", err)
		}
		id = k.PatientID()
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists; refusing to overwrite a key", path)
	}
	k, err := patientkey.Generate(id)
	if err != nil {
		return clikit.Usagef("%v", err)
	}
	if err := k.Save(path); err != nil {
		return err
	}
	out := map[string]string{"patientId": id, "recoveryPublicKey": k.PublicKey(), "recoveryKeyFile": path}
	return o.show(out, func(w io.Writer) {
		fmt.Fprintf(w, "recovery key for %s saved to %s (0600); keep it apart from your key.\n", id, path)
		fmt.Fprintf(w, "name it when you register: patient register --recovery-key %s\n", path)
	})
}

// requestRecovery asks, with the recovery key, for a new key to replace a
// lost one. It takes effect only after the waiting period named at
// registration, and the current key can cancel it until then.
func (o *opts) requestRecovery(ctx context.Context, recoveryPath string) error {
	if recoveryPath == "" {
		return clikit.Usagef("--recovery-key FILE is required")
	}
	rk, err := patientkey.Load(recoveryPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.keyPath); err == nil {
		return fmt.Errorf("%s exists: a recovery makes a new key there; move the old key away first (or pass --key for the new one)", o.keyPath)
	}
	next, err := o.stageNewKey(rk.PatientID())
	if err != nil {
		return err
	}
	resp := &consentv1.RequestRecoveryResponse{}
	var proof string
	// The recovery key counts its own nonces.
	err = o.submitAs(ctx, rk, recoveryPath, (*consentv1.Patient).GetRecoveryNonce, func(k *patientkey.Key) (ledger.Signed, error) {
		change, err := k.RequestRecovery(next)
		proof = change.NewKeySignature
		return change.Signed, err
	}, func(sp *consentv1.SignedPayload) error {
		return o.call(ctx, "POST", "/v1/patients/me:request-recovery", &consentv1.RequestRecoveryRequest{Recovery: sp, NewKeySignature: proof}, resp)
	})
	if err != nil {
		return o.keepStaged(err)
	}
	return o.show(resp, func(w io.Writer) {
		fmt.Fprintf(w, "recovery requested; the new key waits in %s.\n", o.stagedPath())
		fmt.Fprintf(w, "from %s run `patient recovery complete --key %s` to put it in force.\n",
			resp.GetPatient().GetRecovery().GetEffectiveAt(), o.keyPath)
		fmt.Fprintln(w, "until then, your old key (if you still have it) can cancel it: patient recovery cancel")
	})
}

func (o *opts) cancelRecovery(ctx context.Context) error {
	resp := &consentv1.CancelRecoveryResponse{}
	if err := o.submit(ctx, func(k *patientkey.Key) (ledger.Signed, error) { return k.CancelRecovery() }, func(sp *consentv1.SignedPayload) error {
		return o.call(ctx, "POST", "/v1/patients/me:cancel-recovery", &consentv1.CancelRecoveryRequest{Cancellation: sp}, resp)
	}); err != nil {
		return err
	}
	return o.show(resp, func(w io.Writer) {
		fmt.Fprintln(w, "recovery cancelled; your key stays in force.")
		printPatient(w, resp.GetPatient())
	})
}

// completeRecovery puts the recovered key in force once the waiting period
// is over, and moves the staged key into place.
func (o *opts) completeRecovery(ctx context.Context) error {
	g, err := o.gateway()
	if err != nil {
		return err
	}
	next, err := patientkey.Load(o.stagedPath())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no recovered key waits at %s: run `patient recovery request` first (with the same --key)", o.stagedPath())
	} else if err != nil {
		return err
	}
	resp := &consentv1.CompleteRecoveryResponse{}
	if err := g.Call(ctx, "POST", "/v1/patients/me:complete-recovery", &consentv1.CompleteRecoveryRequest{}, resp); err != nil {
		return err
	}
	if resp.GetPatient().GetPublicKey() != next.PublicKey() {
		return fmt.Errorf("the ledger's key for %s is not the one waiting at %s; it was not moved", resp.GetPatient().GetPatientId(), o.stagedPath())
	}
	next.SetNonce(resp.GetPatient().GetNonce())
	if err := o.promote(next); err != nil {
		return err
	}
	return o.show(resp, func(w io.Writer) {
		fmt.Fprintf(w, "recovered: your new key is in force and saved to %s.\n", o.keyPath)
		printPatient(w, resp.GetPatient())
	})
}

// stagedPath is where a new key waits until the ledger takes it.
func (o *opts) stagedPath() string { return o.keyPath + ".next" }

// stageNewKey makes a new key for patientID and saves it at stagedPath,
// refusing to overwrite one that waits there (it may be the only copy of a
// key the ledger already took).
func (o *opts) stageNewKey(patientID string) (*patientkey.Key, error) {
	if _, err := os.Stat(o.stagedPath()); err == nil {
		return nil, fmt.Errorf("%s exists: an earlier change may have put it in force; check with `patient key show`, "+
			"then move it over %s or delete it", o.stagedPath(), o.keyPath)
	}
	next, err := patientkey.Generate(patientID)
	if err != nil {
		return nil, err
	}
	if err := next.Save(o.stagedPath()); err != nil {
		return nil, err
	}
	return next, nil
}

// keepStaged is the error of a change the service refused or did not
// answer: the staged key is deleted only when the service refused the
// change (a 4xx answer: it cannot be in force then), never when the outcome
// is unknown.
func (o *opts) keepStaged(err error) error {
	var refused *apiclient.StatusError
	if errors.As(err, &refused) && refused.HTTPStatus >= 400 && refused.HTTPStatus < 500 {
		os.Remove(o.stagedPath())
		return err
	}
	return fmt.Errorf("%w (the new key stays at %s: if the change went through, it is your key now)", err, o.stagedPath())
}

// promote saves next as the key and removes the staged copy.
func (o *opts) promote(next *patientkey.Key) error {
	if err := next.Save(o.keyPath); err != nil {
		return fmt.Errorf("the ledger took your new key but saving it to %s failed (it is still at %s): %w", o.keyPath, o.stagedPath(), err)
	}
	return os.Remove(o.stagedPath())
}

func signedPayload(s ledger.Signed) *consentv1.SignedPayload {
	return &consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature}
}

func printPatient(w io.Writer, p *consentv1.Patient) {
	key := fmt.Sprintf("%s (version %d)", p.GetPublicKey(), p.GetKeyVersion())
	if p.GetPublicKey() == "" {
		key = fmt.Sprintf("none yet: registered as a minor; from %s you claim the entry with your own key (`patient claim`)", p.GetMajorityAt())
	}
	fmt.Fprintf(w, "patient\t%s\nkey\t%s\nregistered\t%s\n", p.GetPatientId(), key, p.GetRegisteredAt())
	if p.GetRegisteredBy() != "" {
		fmt.Fprintf(w, "registered by\t%s, as a minor until %s\n", p.GetRegisteredBy(), p.GetMajorityAt())
	}
	if p.GetKeyChangedAt() != "" {
		fmt.Fprintf(w, "key changed\t%s\n", p.GetKeyChangedAt())
	}
	if p.GetRecoveryKey() != "" {
		fmt.Fprintf(w, "recovery key\t%s (waiting period %s)\n", p.GetRecoveryKey(), time.Duration(p.GetRecoveryDelaySeconds())*time.Second)
	} else {
		fmt.Fprintln(w, "recovery key\tnone: a lost key cannot be replaced")
	}
	if r := p.GetRecovery(); r != nil {
		fmt.Fprintf(w, "PENDING RECOVERY\tnew key %s, requested %s, in force from %s (cancel it with `patient recovery cancel` if it was not you)\n",
			r.GetNewPublicKey(), r.GetRequestedAt(), r.GetEffectiveAt())
	}
}

// keyChangeOf names what a version of the patient's entry changed about
// their key, from the version before ("" for nothing: a nonce moved).
func keyChangeOf(before, after *consentv1.Patient) string {
	switch {
	case before == nil && after.GetRegisteredBy() != "":
		return "registered as a minor by " + after.GetRegisteredBy()
	case before == nil:
		return "registered"
	case before.GetPublicKey() == "" && after.GetPublicKey() != "":
		return "claimed with the patient's own key, attested by " + after.GetRegisteredBy()
	case after.GetKeyVersion() != before.GetKeyVersion() && before.GetRecovery() != nil && after.GetRecovery() == nil &&
		after.GetPublicKey() == before.GetRecovery().GetNewPublicKey():
		return "recovered (the recovery key's request took effect)"
	case after.GetKeyVersion() != before.GetKeyVersion():
		return "key rotated"
	case before.GetRecovery() == nil && after.GetRecovery() != nil:
		return "RECOVERY REQUESTED, in force from " + after.GetRecovery().GetEffectiveAt()
	case before.GetRecovery() != nil && after.GetRecovery() == nil:
		return "recovery cancelled"
	}
	return ""
}

// notifications runs `patient notifications [--after N] [--follow]`.
func (o *opts) notifications(fs *flag.FlagSet) func(context.Context, []string) error {
	after := fs.Uint64("after", 0, "only notifications after this seq")
	follow := fs.Bool("follow", false, "keep listening and print each new notification as it comes (Ctrl-C to stop)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		g, err := o.gateway()
		if err != nil {
			return err
		}
		if *follow {
			return g.Events(ctx, fmt.Sprintf("/v1/notifications/events?after=%d", *after), func(ev apiclient.Event) error {
				if ev.Name == "error" {
					return fmt.Errorf("the notification stream: %s", ev.Data)
				}
				n := &consentv1.Notification{}
				if err := protojson.Unmarshal(ev.Data, n); err != nil {
					return fmt.Errorf("a notification: %w", err)
				}
				return o.show(n, func(w io.Writer) { printNotification(w, n) })
			})
		}
		resp := &consentv1.ListNotificationsResponse{}
		if err := g.Call(ctx, "GET", fmt.Sprintf("/v1/notifications?after=%d&page_size=500", *after), nil, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			if len(resp.GetNotifications()) == 0 {
				fmt.Fprintln(w, "no notifications")
			}
			for _, n := range resp.GetNotifications() {
				printNotification(w, n)
			}
		})
	}
}

func printNotification(w io.Writer, n *consentv1.Notification) {
	who := n.GetActor()
	if n.GetActorOrg() != "" {
		who += " (" + n.GetActorRole() + ", " + n.GetActorOrg() + ")"
	}
	switch n.GetKind() {
	case "break-glass":
		fmt.Fprintf(w, "%d\t%s\tBREAK-GLASS: %s read %s without your consent (emergency); reason given: %q; may read until %s\n",
			n.GetSeq(), n.GetTime(), who, n.GetResource(), n.GetBreakGlassReason(), n.GetGrantUntil())
	case "access":
		fmt.Fprintf(w, "%d\t%s\t%s: %s %s %s for %s (%s)\n", n.GetSeq(), n.GetTime(), strings.ToUpper(n.GetDecision()), who, n.GetAction(),
			n.GetResource(), n.GetPurpose(), strings.Join(n.GetReasonCodes(), ","))
	case "access-request":
		fmt.Fprintf(w, "%d\t%s\tACCESS REQUEST %s from %s: see `patient requests`\n", n.GetSeq(), n.GetTime(), n.GetRequestId(), who)
	case "consent-granted", "consent-revoked":
		fmt.Fprintf(w, "%d\t%s\t%s %s to %s\n", n.GetSeq(), n.GetTime(), strings.ToUpper(strings.TrimPrefix(n.GetKind(), "consent-")), n.GetConsentId(), n.GetGrantee())
	case "consent-expiring":
		fmt.Fprintf(w, "%d\t%s\tEXPIRING: consent %s to %s ends at %s\n", n.GetSeq(), n.GetTime(), n.GetConsentId(), n.GetGrantee(), n.GetExpiresAt())
	default:
		fmt.Fprintf(w, "%d\t%s\t%s\n", n.GetSeq(), n.GetTime(), n.GetKind())
	}
}
