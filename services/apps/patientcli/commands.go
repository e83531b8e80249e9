package patientcli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// app is the patient app, its commands working with o.
func (o *opts) app() *clikit.App {
	return &clikit.App{
		Name:    "patient",
		Summary: "the patient's app for the health exchange.",
		Common:  o.common,
		Commands: []clikit.Command{
			{Name: "keygen", Summary: "make a new key for a patient id and save it (0600)", Args: "--id PATIENT_ID",
				Help: "Make a new Ed25519 key for a patient id and save it to --key (mode 0600). Refuses to overwrite a key.", Flags: o.keygen},
			{Name: "register", Summary: "register the key on the ledger (signed by the key itself)",
				Help: "Register your key on the ledger. The registration is signed by the key itself.", Flags: o.register},
			{Name: "grant", Summary: "give someone access to categories of your records",
				Args: "--to user:MSP/ID|org:MSP|study:ID --categories C,.. --purposes P,.. [--records R,..] [--not-before T] [--expires T | --for D]",
				Help: "Give someone access to categories of your records for purposes. The consent is signed with your key. " +
					"A consent to study:ID lets only that research study use the records, and must have --purposes research.", Flags: o.grant},
			{Name: "revoke", Summary: "take a consent back", Args: "CONSENT_ID",
				Help: "Take a consent back. Every decision after the service has seen it is a deny.", Flags: o.revoke},
			{Name: "consents", Summary: "list your consents", Help: "List your consents.", Flags: o.listConsents},
			{Name: "access-log", Summary: "see who accessed your data, allowed or denied",
				Help: "See who accessed your data, allowed or denied, and break-glass accesses.", Flags: o.accessLog},
			{Name: "requests", Summary: "list access requests addressed to you", Args: "[--state pending|approved|denied] [--for-patient P]",
				Help: "List access requests addressed to you.", Flags: o.requests},
			{Name: "approve", Summary: "grant what an access request asked for", Args: "REQUEST_ID [--expires T | --for D] [--for-patient P --delegation D]",
				Help: "Grant exactly what an access request asked for, to the requester.", Flags: o.approve},
			{Name: "deny", Summary: "refuse an access request", Args: "REQUEST_ID [--for-patient P]", Help: "Refuse an access request.", Flags: o.deny},
			{Name: "device", Summary: "pair a wearable with you, or revoke one",
				Args: "pair --id DEVICE_ID --public-key BASE64 | revoke DEVICE_ID",
				Help: "Pair a wearable with you: its Ed25519 public key (standard base64, as the device shows it) is registered on the\n" +
					"ledger as yours, so the readings it signs can be told to be yours. Revoke it when it is lost or replaced (readings\n" +
					"received before stay valid). Both are signed with your key.", Flags: o.device},
			{Name: "notifications", Summary: "what happened to your data: accesses, break-glass, requests, consent changes", Args: "[--after N] [--follow]",
				Help: "List your notifications: every access to your data (allowed or denied), each emergency (break-glass) access with\n" +
					"the reason the clinician gave, access requests, consent changes and consents about to expire. --follow keeps\n" +
					"listening and prints each new one as it comes.", Flags: o.notifications},
			{Name: "key", Summary: "show your ledger entry, replace your key, or see its history", Args: "show | rotate | history",
				Help: "show: your entry on the ledger (key, recovery key, a pending recovery).\n" +
					"rotate: replace your key by a new one (both sign the change); from then on the old key signs nothing. Do it when a device\n" +
					"holding your key is lost or shared. The new key waits in KEY.next until the ledger has taken it.\n" +
					"history: every version of your entry, oldest first.", Flags: o.key},
			{Name: "recovery", Summary: "make a recovery key, or recover a lost key with it", Args: "keygen --recovery-key FILE | request --recovery-key FILE | cancel | complete",
				Help: "keygen: make a recovery key (name it at registration with `patient register --recovery-key FILE`; keep it apart from your key).\n" +
					"request: with the recovery key, ask for a new key (written to KEY.next) to replace a lost one. It takes effect after the waiting\n" +
					"period named at registration; until then your current key, if anyone still has it, can cancel it.\n" +
					"cancel: with your current key, stop a recovery you did not ask for.\n" +
					"complete: after the waiting period, put the new key in force and move it to KEY.", Flags: o.recovery},
			{Name: "delegate", Summary: "let a parent, guardian or carer grant, revoke, read or approve requests for you, until a date",
				Args: "--to DELEGATE_ID --delegate-key KEY --relationship parent|guardian|carer --powers grant,revoke,read,approve (--until T | --for D) [--id ID]",
				Help: "Sign a delegation with your key: the delegate (their own id, as their tokens name them, and their own public key,\n" +
					"`patient keygen` prints it on their side) may grant and/or revoke consents in your name, each change signed with their key\n" +
					"and marked as theirs on the ledger. It ends by itself at --until (for a child: at majority), or when you run\n" +
					"`patient undelegate`. With the power read they may also read your records (each read marked \"delegation\" in your access\n" +
					"log); with approve (which needs grant) they answer your access requests (`patient approve --for-patient`).", Flags: o.delegate},
			{Name: "delegations", Summary: "list the delegations you gave and those given to you", Help: "List the delegations you gave, and those given to you.", Flags: o.listDelegations},
			{Name: "undelegate", Summary: "end a delegation at once", Args: "DELEGATION_ID", Help: "End one of your delegations at once (signed by your key).", Flags: o.undelegate},
			{Name: "register-child", Summary: "as a parent or guardian, sign a hospital's registration of your child (who has no key yet)",
				Args: "--child ID --majority DATE [--relationship parent|guardian] [--powers grant,revoke,read,approve] [--delegation ID] --out FILE",
				Help: "Sign with your key (--key: yours, `patient keygen --id YOUR_ID`) the registration of a child who has no key of their own.\n" +
					"Give the file to the hospital: its clinician registers the child (`clinician register-minor FILE`), and the ledger\n" +
					"gives you a delegation for the child with --powers until --majority. Until then nothing can be signed as the child:\n" +
					"you act for them with --for-patient CHILD --delegation ID. At majority the child claims the entry (`patient claim`).", Flags: o.registerChild},
			{Name: "claim", Summary: "at majority, claim the entry a hospital registered for you as a child, with your own key",
				Args: "--out FILE [--recovery-key FILE [--recovery-delay D]]",
				Help: "Sign, with your new key (`patient keygen --id YOUR_PATIENT_ID`), the claim of the entry a hospital registered for you as a\n" +
					"child. The hospital that registered you attests it is you: its clinician sends the file (`clinician claim-key FILE`),\n" +
					"from the day of your majority. Your key is then the only one that signs as you; your guardian's delegation has ended.", Flags: o.claim},
			{Name: "card", Summary: "get a SMART Health Card of a vaccination, anyone can check (records service)",
				Args: "--record R [--include name,birthDate] [--out FILE] [--records-server URL]",
				Help: "Get a SMART Health Card of your Immunization record R: signed by the hospital that filed it, checkable by anyone with\n" +
					"`verifier check`. It holds the vaccination and, of you, only what --include names (from your Patient record; nothing by\n" +
					"default). The card goes to --out (mode 0600, a .smart-health-card file) and its QR-ready shc:/ form is printed.", Flags: o.card},
			{Name: "erase", Summary: "erase all your records for good (records service)", Args: "--confirm [--records-server URL] [--id ERASURE_ID]",
				Help: "Erase all your records and wearable readings for good: their key is destroyed and their stored objects deleted, and the ledger\n" +
					"records your signed request and what was removed (the notarized hashes stay). It cannot be undone, so it needs --confirm.", Flags: o.erase},
		},
		Footer: `Every command takes --help. Common flags: --server, --ca, --token (or
HX_TOKEN), --key (or HX_PATIENT_KEY), --json.
`,
	}
}

func (o *opts) keygen(fs *flag.FlagSet) func(context.Context, []string) error {
	id := fs.String("id", "", "your patient id (pseudonymous, e.g. pat-7f3a)")
	return func(_ context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if *id == "" {
			return clikit.Usagef("--id is required")
		}
		if _, err := os.Stat(o.keyPath); err == nil {
			return fmt.Errorf("%s exists; refusing to overwrite a key (use --key for another file)", o.keyPath)
		}
		k, err := patientkey.Generate(*id)
		if err != nil {
			return err
		}
		if err := k.Save(o.keyPath); err != nil {
			return err
		}
		out := map[string]string{"patientId": k.PatientID(), "publicKey": k.PublicKey(), "keyFile": o.keyPath}
		return o.show(out, func(w io.Writer) {
			fmt.Fprintf(w, "key for %s saved to %s (0600)\npublic key: %s\n", k.PatientID(), o.keyPath, k.PublicKey())
		})
	}
}

func (o *opts) register(fs *flag.FlagSet) func(context.Context, []string) error {
	recoveryPath := fs.String("recovery-key", "", "a recovery key's file (from `patient recovery keygen`): it can replace a lost key, after --recovery-delay")
	delay := fs.Duration("recovery-delay", 0, "how long a recovery waits before it takes effect, while your key can still cancel it (default 72h; 1s to 720h)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		g, err := o.gateway()
		if err != nil {
			return err
		}
		k, recoveryKey, err := o.keyWithRecovery(*recoveryPath, *delay)
		if err != nil {
			return err
		}
		// A registration carries nonce 0: the key's counter starts there.
		s, err := k.RegisterWithRecovery(recoveryKey, *delay)
		if err != nil {
			return err
		}
		resp := &consentv1.RegisterPatientResponse{}
		if err := g.Call(ctx, "POST", "/v1/patients:register", &consentv1.RegisterPatientRequest{Registration: signedPayload(s)}, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintf(w, "registered %s at %s\n", resp.GetPatientId(), resp.GetRegisteredAt())
			if recoveryKey == "" {
				fmt.Fprintln(w, "no recovery key: if you lose your key, nobody can replace it (see `patient recovery --help`)")
			}
		})
	}
}

func (o *opts) grant(fs *flag.FlagSet) func(context.Context, []string) error {
	to := fs.String("to", "", "grantee: user:MSP_ID/USER_ID (one person at their organisation, e.g. user:StMarysMSP/dr-alice), org:MSP_ID or study:STUDY_ID")
	categories := fs.String("categories", "", "comma-separated: "+fmt.Sprint(ledgerapi.Categories))
	purposes := fs.String("purposes", "", "comma-separated: "+fmt.Sprint(ledgerapi.Purposes))
	records := fs.String("records", "", "comma-separated record ids (default: every record of the categories)")
	notBefore := fs.String("not-before", "", "RFC 3339 start (default: now)")
	expires := fs.String("expires", "", "RFC 3339 end (default: none)")
	lasting := fs.Duration("for", 0, "how long the consent lasts, e.g. 720h")
	id := fs.String("id", "", "consent id (default: a random one)")
	d := o.delegatedFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if err := d.check(); err != nil {
			return err
		}
		kind, who, ok := cutGrantee(*to)
		if !ok {
			return clikit.Usagef("--to must be user:MSP_ID/USER_ID (e.g. user:StMarysMSP/dr-alice), org:MSP_ID or study:STUDY_ID")
		}
		nb, exp, err := validity(*notBefore, *expires, *lasting)
		if err != nil {
			return err
		}
		consentID := *id
		if consentID == "" {
			consentID = newConsentID()
		}
		c := ledgerapi.ConsentGrant{
			ConsentID: consentID, Grantee: ledgerapi.Grantee{Kind: kind, ID: who},
			Categories: splitList(*categories), Purposes: splitList(*purposes), RecordIDs: splitList(*records),
			NotBefore: nb, ExpiresAt: exp,
		}
		if err := checkGrant(c); err != nil {
			return err
		}
		resp := &consentv1.GrantConsentResponse{}
		send := func(sp *consentv1.SignedPayload) error {
			return o.call(ctx, "POST", "/v1/consents:grant", &consentv1.GrantConsentRequest{Grant: sp}, resp)
		}
		if err := o.submitFor(ctx, d, d.grant(c), send); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) { fmt.Fprint(w, "granted:\n"); printConsent(w, resp.GetConsent()) })
	}
}

// cutGrantee splits a --to value, KIND:ID, into a grantee kind and a
// non-empty id.
func cutGrantee(s string) (kind, id string, ok bool) {
	for _, k := range []string{ledgerapi.GranteeUser, ledgerapi.GranteeOrg, ledgerapi.GranteeStudy} {
		if len(s) > len(k)+1 && s[:len(k)+1] == k+":" {
			return k, s[len(k)+1:], true
		}
	}
	return "", "", false
}

// checkGrant refuses a grant the ledger would refuse for its own values
// (an unknown category or purpose, a malformed id or time), before any key
// file is read or any service is called. The header is the key's to fill
// when it signs, so it is checked with a stand-in.
func checkGrant(c ledgerapi.ConsentGrant) error {
	for _, v := range c.Categories {
		if ledgerapi.ValidateCategory("", v) != nil {
			return clikit.Usagef("unknown category %q in --categories (categories: %s)", v, strings.Join(ledgerapi.Categories, ", "))
		}
	}
	for _, v := range c.Purposes {
		if ledgerapi.ValidatePurpose("", v) != nil {
			return clikit.Usagef("unknown purpose %q in --purposes (purposes: %s)", v, strings.Join(ledgerapi.Purposes, ", "))
		}
	}
	c.Header = ledgerapi.Header{Op: ledgerapi.OpConsentGrant, PatientID: "stand-in"}
	if err := c.Validate(); err != nil {
		return clikit.Usagef("%v", err)
	}
	return nil
}

func (o *opts) revoke(fs *flag.FlagSet) func(context.Context, []string) error {
	d := o.delegatedFlags(fs)
	return func(ctx context.Context, args []string) error {
		consentID, err := clikit.OneArg(args, "CONSENT_ID")
		if err != nil {
			return err
		}
		if err := ledgerapi.ValidateID("CONSENT_ID", consentID); err != nil {
			return clikit.Usagef("%v", err)
		}
		if err := d.check(); err != nil {
			return err
		}
		resp := &consentv1.RevokeConsentResponse{}
		send := func(sp *consentv1.SignedPayload) error {
			return o.call(ctx, "POST", "/v1/consents:revoke", &consentv1.RevokeConsentRequest{Revocation: sp}, resp)
		}
		if err := o.submitFor(ctx, d, d.revoke(consentID), send); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) { fmt.Fprint(w, "revoked:\n"); printConsent(w, resp.GetConsent()) })
	}
}

func (o *opts) listConsents(fs *flag.FlagSet) func(context.Context, []string) error {
	size := fs.Int("page-size", 50, "consents per page (1-100)")
	page := fs.String("page-token", "", "from a previous listing")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		resp := &consentv1.ListConsentsResponse{}
		if err := o.getPage(ctx, "/v1/consents", *size, *page, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintln(w, "CONSENT\tSTATUS\tGRANTEE\tCATEGORIES\tPURPOSES\tRECORDS\tVALID")
			for _, c := range resp.GetConsents() {
				printConsent(w, c)
			}
			if resp.GetNextPageToken() != "" {
				fmt.Fprintf(w, "more: --page-token %s\n", resp.GetNextPageToken())
			}
		})
	}
}

func (o *opts) accessLog(fs *flag.FlagSet) func(context.Context, []string) error {
	size := fs.Int("page-size", 50, "events per page (1-100)")
	page := fs.String("page-token", "", "from a previous listing")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		resp := &consentv1.GetAccessLogResponse{}
		if err := o.getPage(ctx, "/v1/access-log", *size, *page, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintln(w, "TIME\tWHO\tACTION\tRESOURCE\tPURPOSE\tDECISION\tWHY\tRECORDED BY")
			for _, e := range resp.GetEvents() {
				decision := e.GetDecision()
				if e.GetBreakGlass() {
					decision += " (BREAK-GLASS)"
				}
				who := e.GetActor() + " (" + cmp.Or(e.GetActorOrg(), e.GetActorRole()) + ")"
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.GetTime(), who, e.GetAction(),
					e.GetResource(), e.GetPurpose(), decision, strings.Join(e.GetReasonCodes(), ","), e.GetRecordedBy())
			}
			if resp.GetNextPageToken() != "" {
				fmt.Fprintf(w, "more: --page-token %s\n", resp.GetNextPageToken())
			}
		})
	}
}

// getPage reads one page of a listing into resp.
func (o *opts) getPage(ctx context.Context, path string, size int, token string, resp proto.Message) error {
	g, err := o.gateway()
	if err != nil {
		return err
	}
	return g.GetPage(ctx, path, nil, size, token, resp)
}

func (o *opts) requests(fs *flag.FlagSet) func(context.Context, []string) error {
	state := fs.String("state", "", "pending, approved or denied (default: all)")
	forPatient := fs.String("for-patient", "", "as a delegate with the power to approve: the patient whose requests to list")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		resp, err := o.listRequests(ctx, *forPatient, *state)
		if err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintln(w, "REQUEST\tSTATE\tFROM\tCATEGORIES\tPURPOSES\tREASON")
			for _, r := range resp.GetRequests() {
				printRequest(w, r)
			}
		})
	}
}

func (o *opts) listRequests(ctx context.Context, patientID, state string) (*consentv1.ListAccessRequestsResponse, error) {
	g, err := o.gateway()
	if err != nil {
		return nil, err
	}
	q := url.Values{"state": {state}}
	if patientID != "" {
		q.Set("patient_id", patientID)
	}
	resp := &consentv1.ListAccessRequestsResponse{}
	return resp, g.Call(ctx, "GET", "/v1/access-requests?"+q.Encode(), nil, resp)
}

func (o *opts) approve(fs *flag.FlagSet) func(context.Context, []string) error {
	expires := fs.String("expires", "", "RFC 3339 end of the consent (default: none)")
	lasting := fs.Duration("for", 0, "how long the consent lasts, e.g. 720h")
	d := o.delegatedFlags(fs)
	return func(ctx context.Context, args []string) error {
		id, err := clikit.OneArg(args, "REQUEST_ID")
		if err != nil {
			return err
		}
		if err := ledgerapi.ValidateID("REQUEST_ID", id); err != nil {
			return clikit.Usagef("%v", err)
		}
		if err := d.check(); err != nil {
			return err
		}
		_, exp, err := validity("", *expires, *lasting)
		if err != nil {
			return err
		}
		pending, err := o.listRequests(ctx, d.patient, "pending")
		if err != nil {
			return err
		}
		var req *consentv1.AccessRequest
		for _, r := range pending.GetRequests() {
			if r.GetRequestId() == id {
				req = r
			}
		}
		if req == nil {
			return fmt.Errorf("no pending access request %s", id)
		}
		c := ledgerapi.ConsentGrant{
			ConsentID: newConsentID(), Grantee: ledgerapi.UserGrantee(req.GetRequesterOrg(), req.GetRequester()),
			Categories: req.GetCategories(), Purposes: req.GetPurposes(), ExpiresAt: exp,
		}
		resp := &consentv1.ApproveAccessRequestResponse{}
		path := "/v1/access-requests/" + url.PathEscape(id) + ":approve"
		send := func(sp *consentv1.SignedPayload) error {
			return o.call(ctx, "POST", path, &consentv1.ApproveAccessRequestRequest{RequestId: id, Grant: sp}, resp)
		}
		if err := o.submitFor(ctx, d, d.grant(c), send); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprint(w, "approved:\n")
			printRequest(w, resp.GetRequest())
			printConsent(w, resp.GetConsent())
		})
	}
}

func (o *opts) deny(fs *flag.FlagSet) func(context.Context, []string) error {
	forPatient := fs.String("for-patient", "", "as a delegate with the power to approve: the patient the request is addressed to")
	return func(ctx context.Context, args []string) error {
		id, err := clikit.OneArg(args, "REQUEST_ID")
		if err != nil {
			return err
		}
		g, err := o.gateway()
		if err != nil {
			return err
		}
		resp := &consentv1.DenyAccessRequestResponse{}
		if err := g.Call(ctx, "POST", "/v1/access-requests/"+url.PathEscape(id)+":deny", &consentv1.DenyAccessRequestRequest{RequestId: id, PatientId: *forPatient}, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) { fmt.Fprint(w, "denied:\n"); printRequest(w, resp.GetRequest()) })
	}
}

func (o *opts) device(fs *flag.FlagSet) func(context.Context, []string) error {
	id := fs.String("id", "", "pair: the device's id (e.g. watch-7f3a)")
	publicKey := fs.String("public-key", "", "pair: the device's Ed25519 public key, standard base64")
	return func(ctx context.Context, args []string) error {
		if len(args) == 0 {
			return clikit.Usagef("want pair or revoke")
		}
		switch args[0] {
		case "pair":
			if err := clikit.NoArgs(args[1:]); err != nil {
				return err
			}
			if *id == "" || *publicKey == "" {
				return clikit.Usagef("pair needs --id and --public-key")
			}
			if err := ledgerapi.ValidateID("--id", *id); err != nil {
				return clikit.Usagef("%v", err)
			}
			if err := ledgerapi.ValidatePublicKey("--public-key", *publicKey); err != nil {
				return clikit.Usagef("%v", err)
			}
			return o.changeDevice(ctx, "/v1/devices:pair", "paired",
				func(k *patientkey.Key) (ledger.Signed, error) { return k.RegisterDevice(*id, *publicKey) },
				func(sp *consentv1.SignedPayload) proto.Message { return &consentv1.PairDeviceRequest{Registration: sp} },
				&consentv1.PairDeviceResponse{})
		case "revoke":
			deviceID, err := clikit.OneArg(args[1:], "DEVICE_ID")
			if err != nil {
				return err
			}
			if err := ledgerapi.ValidateID("DEVICE_ID", deviceID); err != nil {
				return clikit.Usagef("%v", err)
			}
			var pairOnly []string
			fs.Visit(func(f *flag.Flag) {
				if f.Name == "id" || f.Name == "public-key" {
					pairOnly = append(pairOnly, "--"+f.Name)
				}
			})
			if len(pairOnly) > 0 {
				return clikit.Usagef("%s: only for pair (revoke takes the DEVICE_ID)", strings.Join(pairOnly, ", "))
			}
			return o.changeDevice(ctx, "/v1/devices:revoke", "revoked",
				func(k *patientkey.Key) (ledger.Signed, error) { return k.RevokeDevice(deviceID) },
				func(sp *consentv1.SignedPayload) proto.Message { return &consentv1.RevokeDeviceRequest{Revocation: sp} },
				&consentv1.RevokeDeviceResponse{})
		default:
			return clikit.Usagef("unknown device command %q: want pair or revoke", args[0])
		}
	}
}

// deviceResponse is the answer to a pairing or a revocation.
type deviceResponse interface {
	proto.Message
	GetDevice() *consentv1.Device
}

// changeDevice signs a device change with the patient's key, posts it to
// path wrapped by request, and shows the device the service answers with.
func (o *opts) changeDevice(ctx context.Context, path, done string, sign func(*patientkey.Key) (ledger.Signed, error),
	request func(*consentv1.SignedPayload) proto.Message, resp deviceResponse) error {
	if err := o.submit(ctx, sign, func(sp *consentv1.SignedPayload) error { return o.call(ctx, "POST", path, request(sp), resp) }); err != nil {
		return err
	}
	return o.show(resp, func(w io.Writer) { fmt.Fprintf(w, "%s:\n", done); printDevice(w, resp.GetDevice()) })
}

func (o *opts) erase(fs *flag.FlagSet) func(context.Context, []string) error {
	confirm := fs.Bool("confirm", false, "yes, erase all my records; this cannot be undone")
	server := fs.String("records-server", devenv.ServerURL("records"), "the records service's HTTP/JSON gateway ($HX_RECORDS_URL, else the development network's)")
	id := fs.String("id", "", "erasure id (default: a random one; pass the same one to resume an erasure that failed half-way)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if !*confirm {
			return clikit.Usagef("erasing destroys your records' key and deletes every stored version and wearable reading; it cannot be undone. Run again with --confirm")
		}
		erasureID := *id
		if erasureID == "" {
			erasureID = newID("erase-")
		} else if err := ledgerapi.ValidateID("--id", erasureID); err != nil {
			return clikit.Usagef("%v", err)
		}
		g, err := o.client("records", *server, "--records-server")
		if err != nil {
			return err
		}
		resp := &recordsv1.ErasePatientRecordsResponse{}
		err = o.submit(ctx, func(k *patientkey.Key) (ledger.Signed, error) { return k.Erase(erasureID) }, func(sp *consentv1.SignedPayload) error {
			e, err := ledgerapi.Parse[ledgerapi.PatientErasure]([]byte(sp.GetPayload()))
			if err != nil {
				return err
			}
			path := "/v1/patients/" + url.PathEscape(e.PatientID) + "/records:erase"
			req := &recordsv1.ErasePatientRecordsRequest{PatientId: e.PatientID,
				Erasure: &recordsv1.SignedErasure{Payload: sp.GetPayload(), Signature: sp.GetSignature()}}
			return g.Call(ctx, "POST", path, req, resp)
		})
		if err != nil {
			return fmt.Errorf("%w (to resume, run again with --id %s)", err, erasureID)
		}
		return o.show(resp, func(w io.Writer) {
			key := resp.GetKeyId()
			if key == "" {
				key = "(none)"
			}
			fmt.Fprintf(w, "erased the records of %s at %s\n", resp.GetPatientId(), resp.GetErasedAt())
			fmt.Fprintf(w, "record versions deleted\t%d\n", resp.GetObjectsDeleted())
			fmt.Fprintf(w, "wearable objects deleted\t%d\n", resp.GetWearableObjectsDeleted())
			fmt.Fprintf(w, "data key destroyed\t%s\n", key)
			fmt.Fprintf(w, "erasure\t%s (requested in tx %s, completed in tx %s)\n", resp.GetErasureId(), resp.GetRequestTxId(), resp.GetTxId())
		})
	}
}

func (o *opts) card(fs *flag.FlagSet) func(context.Context, []string) error {
	record := fs.String("record", "", "the Immunization record")
	include := fs.String("include", "", "what of you the card shows, from your Patient record: name, birthDate (comma-separated; default nothing)")
	out := fs.String("out", "", "write the card here (a .smart-health-card file, mode 0600)")
	server := fs.String("records-server", devenv.ServerURL("records"), "the records service's HTTP/JSON gateway ($HX_RECORDS_URL, else the development network's)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		if *record == "" {
			return clikit.Usagef("--record is required")
		}
		k, err := o.loadKey()
		if err != nil {
			return err
		}
		var claims []string
		if *include != "" {
			claims = strings.Split(*include, ",")
		}
		g, err := o.client("records", *server, "--records-server")
		if err != nil {
			return err
		}
		resp := &recordsv1.IssueHealthCardResponse{}
		path := "/v1/patients/" + url.PathEscape(k.PatientID()) + "/records/" + url.PathEscape(*record) + ":health-card"
		req := &recordsv1.IssueHealthCardRequest{PatientId: k.PatientID(), RecordId: *record, IncludeIdentity: claims}
		if err := g.Call(ctx, "POST", path, req, resp); err != nil {
			return err
		}
		if *out != "" {
			file, err := json.Marshal(map[string][]string{"verifiableCredential": {resp.GetJws()}})
			if err != nil {
				return err
			}
			if err := os.WriteFile(*out, append(file, '\n'), 0o600); err != nil {
				return fmt.Errorf("cannot write the card: %w", err)
			}
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintf(w, "health card of record %s, signed by %s (key %s)\n", *record, resp.GetOrg(), resp.GetKid())
			fmt.Fprintf(w, "issuer\t%s\n", resp.GetIssuer())
			if *out != "" {
				fmt.Fprintf(w, "file\t%s\n", *out)
			}
			fmt.Fprintf(w, "QR (%d characters)\t%s\n", len(resp.GetNumeric()), resp.GetNumeric())
		})
	}
}

// delegated are the flags with which a delegate acts for a patient: grant
// and revoke take them.
type delegated struct{ patient, delegation string }

func (o *opts) delegatedFlags(fs *flag.FlagSet) *delegated {
	d := &delegated{}
	fs.StringVar(&d.patient, "for-patient", "", "as a delegate: the patient you act for (with --delegation; your own key signs)")
	fs.StringVar(&d.delegation, "delegation", "", "as a delegate: the delegation you act under")
	return d
}

func (d *delegated) delegated() bool { return d.delegation != "" }

func (d *delegated) check() error {
	if (d.patient == "") != (d.delegation == "") {
		return clikit.Usagef("--for-patient and --delegation go together")
	}
	if d.delegated() {
		if err := errors.Join(ledgerapi.ValidateID("--for-patient", d.patient), ledgerapi.ValidateID("--delegation", d.delegation)); err != nil {
			return clikit.Usagef("%v", err)
		}
	}
	return nil
}

// grant signs c for the patient: as the patient, or as their delegate.
func (d *delegated) grant(c ledgerapi.ConsentGrant) func(*patientkey.Key) (ledger.Signed, error) {
	if d.delegated() {
		return func(k *patientkey.Key) (ledger.Signed, error) { return k.GrantFor(d.patient, d.delegation, c) }
	}
	return func(k *patientkey.Key) (ledger.Signed, error) { return k.Grant(c) }
}

// revoke signs the revocation of a consent, as grant does.
func (d *delegated) revoke(consentID string) func(*patientkey.Key) (ledger.Signed, error) {
	if d.delegated() {
		return func(k *patientkey.Key) (ledger.Signed, error) { return k.RevokeFor(d.patient, d.delegation, consentID) }
	}
	return func(k *patientkey.Key) (ledger.Signed, error) { return k.Revoke(consentID) }
}

// submitFor signs and sends a change as the patient (submit), or under the
// delegation (submitDelegated).
func (o *opts) submitFor(ctx context.Context, d *delegated, sign func(*patientkey.Key) (ledger.Signed, error), send func(*consentv1.SignedPayload) error) error {
	if d.delegated() {
		return o.submitDelegated(ctx, d.delegation, sign, send)
	}
	return o.submit(ctx, sign, send)
}

// submitDelegated signs a change with the caller's key as a delegate under
// delegationID and sends it: the nonce is one above the delegation's last
// (read first) and this key file's last.
func (o *opts) submitDelegated(ctx context.Context, delegationID string, sign func(k *patientkey.Key) (ledger.Signed, error), send func(*consentv1.SignedPayload) error) error {
	k, err := o.loadKey()
	if err != nil {
		return err
	}
	g, err := o.gateway()
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		d := &consentv1.GetDelegationResponse{}
		if err := g.Call(ctx, "GET", "/v1/delegations/"+url.PathEscape(delegationID), nil, d); err != nil {
			return fmt.Errorf("reading the delegation (for the next nonce): %w", err)
		}
		k.SetNonce(d.GetDelegation().GetNonce())
		s, err := sign(k)
		if err != nil {
			return err
		}
		if err := k.Save(o.keyPath); err != nil {
			return err
		}
		err = send(&consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature})
		if attempt == 0 && staleNonce(err) {
			continue
		}
		return err
	}
}

func (o *opts) delegate(fs *flag.FlagSet) func(context.Context, []string) error {
	to := fs.String("to", "", "the delegate's id, as their own tokens name them")
	key := fs.String("delegate-key", "", "the delegate's public key (Ed25519, base64; `patient keygen` prints it on their side)")
	relationship := fs.String("relationship", "", "parent, guardian or carer")
	powers := fs.String("powers", "", "what they may do in your name, comma-separated: grant, revoke, read, approve (needs grant)")
	until := fs.String("until", "", "RFC 3339 end (for a child: the day of majority)")
	lasting := fs.Duration("for", 0, "how long it lasts, e.g. 8760h")
	id := fs.String("id", "", "delegation id (default: a random one)")
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		_, end, err := validity("", *until, *lasting)
		if err != nil {
			return err
		}
		if end == "" {
			return clikit.Usagef("a delegation ends: give --until or --for")
		}
		delegationID := *id
		if delegationID == "" {
			delegationID = newID("d-")
		}
		d := ledgerapi.DelegationGrant{DelegationID: delegationID, DelegateID: *to, DelegateKey: *key, Relationship: *relationship,
			Powers: splitList(*powers), ExpiresAt: end}
		d.Header = ledgerapi.Header{Op: ledgerapi.OpDelegationGrant, PatientID: "stand-in"}
		if err := d.Validate(); err != nil {
			return clikit.Usagef("%v", err)
		}
		resp := &consentv1.GrantDelegationResponse{}
		if err := o.submit(ctx, func(k *patientkey.Key) (ledger.Signed, error) { return k.Delegate(d) }, func(sp *consentv1.SignedPayload) error {
			return o.call(ctx, "POST", "/v1/delegations:grant", &consentv1.GrantDelegationRequest{Grant: sp}, resp)
		}); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) { fmt.Fprint(w, "delegated:\n"); printDelegation(w, resp.GetDelegation()) })
	}
}

func (o *opts) undelegate(*flag.FlagSet) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		delegationID, err := clikit.OneArg(args, "DELEGATION_ID")
		if err != nil {
			return err
		}
		if err := ledgerapi.ValidateID("DELEGATION_ID", delegationID); err != nil {
			return clikit.Usagef("%v", err)
		}
		resp := &consentv1.RevokeDelegationResponse{}
		if err := o.submit(ctx, func(k *patientkey.Key) (ledger.Signed, error) { return k.EndDelegation(delegationID) }, func(sp *consentv1.SignedPayload) error {
			return o.call(ctx, "POST", "/v1/delegations:revoke", &consentv1.RevokeDelegationRequest{Revocation: sp}, resp)
		}); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) { fmt.Fprint(w, "ended:\n"); printDelegation(w, resp.GetDelegation()) })
	}
}

func (o *opts) listDelegations(*flag.FlagSet) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if err := clikit.NoArgs(args); err != nil {
			return err
		}
		resp := &consentv1.ListDelegationsResponse{}
		if err := o.call(ctx, "GET", "/v1/delegations", nil, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			fmt.Fprintf(w, "given (%d):\n", len(resp.GetGiven()))
			for _, d := range resp.GetGiven() {
				printDelegation(w, d)
			}
			fmt.Fprintf(w, "given to you (%d):\n", len(resp.GetReceived()))
			for _, d := range resp.GetReceived() {
				printDelegation(w, d)
			}
		})
	}
}

func printDelegation(w io.Writer, d *consentv1.Delegation) {
	state := d.GetStatus() + " until " + d.GetExpiresAt()
	if d.GetRevokedAt() != "" {
		state = d.GetStatus() + " at " + d.GetRevokedAt()
	}
	by := ""
	if d.GetRegisteredBy() != "" {
		by = "\tgiven at the child's registration by " + d.GetRegisteredBy()
	}
	fmt.Fprintf(w, "%s\t%s\tpatient %s\t%s %s\tmay %s%s\n", d.GetDelegationId(), state, d.GetPatientId(), d.GetRelationship(),
		d.GetDelegateId(), strings.Join(d.GetPowers(), ","), by)
}
