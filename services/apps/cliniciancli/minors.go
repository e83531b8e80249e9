package cliniciancli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
)

// A hospital registers a child who has no key of their own, with the
// guardian's signature, and at majority attests the patient's claim of the
// entry: both through the consent service, as the clinician's hospital.

// consent adds --consent-server, the consent service's gateway, to the
// flags of a command that calls it.
func (o *opts) consent(flags func(fs *flag.FlagSet, server *string) func(context.Context, []string) error) func(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(fs *flag.FlagSet) func(context.Context, []string) error {
		server := fs.String("consent-server", devenv.ServerURL("consent"), "the consent service's HTTP/JSON gateway ($HX_CONSENT_URL, else the development network's)")
		return flags(fs, server)
	}
}

func (o *opts) registerMinor(_ *flag.FlagSet, server *string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		resp := &consentv1.RegisterMinorResponse{}
		if err := o.sendSigned(ctx, args, *server, "/v1/minors:register", func(sp *consentv1.SignedPayload) proto.Message {
			return &consentv1.RegisterMinorRequest{Registration: sp}
		}, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			p, d := resp.GetPatient(), resp.GetDelegation()
			fmt.Fprintf(w, "registered %s as a minor of %s until %s: no key of their own yet\n", p.GetPatientId(), p.GetRegisteredBy(), p.GetMajorityAt())
			fmt.Fprintf(w, "%s %s acts for them under delegation %s (may %v) until then\n", d.GetRelationship(), d.GetDelegateId(), d.GetDelegationId(), d.GetPowers())
		})
	}
}

func (o *opts) claimKey(_ *flag.FlagSet, server *string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		resp := &consentv1.ClaimKeyResponse{}
		if err := o.sendSigned(ctx, args, *server, "/v1/minors:claim-key", func(sp *consentv1.SignedPayload) proto.Message {
			return &consentv1.ClaimKeyRequest{Claim: sp}
		}, resp); err != nil {
			return err
		}
		return o.show(resp, func(w io.Writer) {
			p := resp.GetPatient()
			fmt.Fprintf(w, "%s now signs with their own key %s… (key version %d), attested by %s\n", p.GetPatientId(), p.GetPublicKey()[:min(12, len(p.GetPublicKey()))],
				p.GetKeyVersion(), p.GetRegisteredBy())
		})
	}
}

// sendSigned reads the signed file that args name (- for standard input)
// and posts it, wrapped by request, to the consent service's path.
func (o *opts) sendSigned(ctx context.Context, args []string, server, path string, request func(*consentv1.SignedPayload) proto.Message, resp proto.Message) error {
	file, err := clikit.OneArg(args, "FILE")
	if err != nil {
		return err
	}
	s, err := clikit.ReadSigned(o.in, file)
	if err != nil {
		return err
	}
	c, err := o.clientOf("consent", "--consent-server", server)
	if err != nil {
		return err
	}
	return c.Call(ctx, "POST", path, request(&consentv1.SignedPayload{Payload: s.Payload, Signature: s.Signature}), resp)
}
