package consent

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

// patientAPI serves consent.v1.ConsentService: messages in and out, the
// verified caller, and errors to statuses; the work is the service's
// (patients.go).
type patientAPI struct {
	consentv1.UnimplementedConsentServiceServer
	*service
}

// caller is the verified principal of the call.
func caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, fmt.Errorf("%w: no verified caller", ErrPermission)
	}
	return p, nil
}

// signed is a signed payload message as the ledger client takes it.
func signed(sp *consentv1.SignedPayload) ledger.Signed {
	return ledger.Signed{Payload: sp.GetPayload(), Signature: sp.GetSignature()}
}

// serve runs f for the verified caller and maps its error to a status.
func serve[T any](ctx context.Context, a *patientAPI, f func(p auth.Principal) (T, error)) (T, error) {
	var zero T
	p, err := caller(ctx)
	if err != nil {
		return zero, toStatus(ctx, a.log, err)
	}
	resp, err := f(p)
	if err != nil {
		return zero, toStatus(ctx, a.log, err)
	}
	return resp, nil
}

func (a *patientAPI) RegisterPatient(ctx context.Context, req *consentv1.RegisterPatientRequest) (*consentv1.RegisterPatientResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.RegisterPatientResponse, error) {
		patient, err := a.registerPatient(ctx, p, signed(req.GetRegistration()))
		return &consentv1.RegisterPatientResponse{PatientId: patient.PatientID, PublicKey: patient.PublicKey, RegisteredAt: patient.RegisteredAt}, err
	})
}

func (a *patientAPI) GrantConsent(ctx context.Context, req *consentv1.GrantConsentRequest) (*consentv1.GrantConsentResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.GrantConsentResponse, error) {
		c, err := a.grant(ctx, p, signed(req.GetGrant()), nil)
		return &consentv1.GrantConsentResponse{Consent: consentToProto(c)}, err
	})
}

func (a *patientAPI) RevokeConsent(ctx context.Context, req *consentv1.RevokeConsentRequest) (*consentv1.RevokeConsentResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.RevokeConsentResponse, error) {
		c, err := a.revoke(ctx, p, signed(req.GetRevocation()))
		return &consentv1.RevokeConsentResponse{Consent: consentToProto(c)}, err
	})
}

func (a *patientAPI) GrantDelegation(ctx context.Context, req *consentv1.GrantDelegationRequest) (*consentv1.GrantDelegationResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.GrantDelegationResponse, error) {
		d, err := a.grantDelegation(ctx, p, signed(req.GetGrant()))
		return &consentv1.GrantDelegationResponse{Delegation: delegationToProto(d)}, err
	})
}

func (a *patientAPI) RegisterMinor(ctx context.Context, req *consentv1.RegisterMinorRequest) (*consentv1.RegisterMinorResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.RegisterMinorResponse, error) {
		m, err := a.registerMinor(ctx, p, signed(req.GetRegistration()))
		return &consentv1.RegisterMinorResponse{Patient: patientToProto(m.Patient), Delegation: delegationToProto(m.Delegation)}, err
	})
}

func (a *patientAPI) ClaimKey(ctx context.Context, req *consentv1.ClaimKeyRequest) (*consentv1.ClaimKeyResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.ClaimKeyResponse, error) {
		patient, err := a.claimKey(ctx, p, signed(req.GetClaim()))
		return &consentv1.ClaimKeyResponse{Patient: patientToProto(patient)}, err
	})
}

func (a *patientAPI) RevokeDelegation(ctx context.Context, req *consentv1.RevokeDelegationRequest) (*consentv1.RevokeDelegationResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.RevokeDelegationResponse, error) {
		d, err := a.revokeDelegation(ctx, p, signed(req.GetRevocation()))
		return &consentv1.RevokeDelegationResponse{Delegation: delegationToProto(d)}, err
	})
}

func (a *patientAPI) ListDelegations(ctx context.Context, _ *consentv1.ListDelegationsRequest) (*consentv1.ListDelegationsResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.ListDelegationsResponse, error) {
		given, received, err := a.listDelegations(ctx, p)
		return &consentv1.ListDelegationsResponse{Given: convertAll(given, delegationToProto), Received: convertAll(received, delegationToProto)}, err
	})
}

func (a *patientAPI) GetDelegation(ctx context.Context, req *consentv1.GetDelegationRequest) (*consentv1.GetDelegationResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.GetDelegationResponse, error) {
		d, err := a.delegation(ctx, p, req.GetDelegationId())
		return &consentv1.GetDelegationResponse{Delegation: delegationToProto(d)}, err
	})
}

func (a *patientAPI) PairDevice(ctx context.Context, req *consentv1.PairDeviceRequest) (*consentv1.PairDeviceResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.PairDeviceResponse, error) {
		d, err := changeDevice[ledgerapi.DeviceRegistration](ctx, a.service, p, signed(req.GetRegistration()), ledgerapi.OpDeviceRegister, a.ledger.RegisterDevice)
		return &consentv1.PairDeviceResponse{Device: deviceToProto(d)}, err
	})
}

func (a *patientAPI) RevokeDevice(ctx context.Context, req *consentv1.RevokeDeviceRequest) (*consentv1.RevokeDeviceResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.RevokeDeviceResponse, error) {
		d, err := changeDevice[ledgerapi.DeviceRevocation](ctx, a.service, p, signed(req.GetRevocation()), ledgerapi.OpDeviceRevoke, a.ledger.RevokeDevice)
		return &consentv1.RevokeDeviceResponse{Device: deviceToProto(d)}, err
	})
}

func (a *patientAPI) ListDevices(ctx context.Context, _ *consentv1.ListDevicesRequest) (*consentv1.ListDevicesResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.ListDevicesResponse, error) {
		if err := requireRole(p, auth.RolePatient); err != nil {
			return nil, err
		}
		devices, err := a.ledger.DevicesByPatient(ctx, p.Subject)
		return &consentv1.ListDevicesResponse{Devices: convertAll(devices, deviceToProto)}, err
	})
}

func (a *patientAPI) ListConsents(ctx context.Context, req *consentv1.ListConsentsRequest) (*consentv1.ListConsentsResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.ListConsentsResponse, error) {
		items, next, err := a.consents(ctx, p, req.GetPageSize(), req.GetPageToken())
		return &consentv1.ListConsentsResponse{Consents: convertAll(items, consentToProto), NextPageToken: next}, err
	})
}

func (a *patientAPI) GetAccessLog(ctx context.Context, req *consentv1.GetAccessLogRequest) (*consentv1.GetAccessLogResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.GetAccessLogResponse, error) {
		items, next, err := a.accessLog(ctx, p, req.GetPageSize(), req.GetPageToken())
		return &consentv1.GetAccessLogResponse{Events: convertAll(items, eventToProto), NextPageToken: next}, err
	})
}

func (a *patientAPI) CreateAccessRequest(ctx context.Context, req *consentv1.CreateAccessRequestRequest) (*consentv1.CreateAccessRequestResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.CreateAccessRequestResponse, error) {
		r, err := a.createRequest(ctx, p, req.GetPatientId(), req.GetCategories(), req.GetPurposes(), req.GetReason())
		return &consentv1.CreateAccessRequestResponse{Request: requestToProto(r)}, err
	})
}

func (a *patientAPI) ListAccessRequests(ctx context.Context, req *consentv1.ListAccessRequestsRequest) (*consentv1.ListAccessRequestsResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.ListAccessRequestsResponse, error) {
		rs, err := a.listRequests(ctx, p, req.GetPatientId(), req.GetState())
		return &consentv1.ListAccessRequestsResponse{Requests: convertAll(rs, requestToProto)}, err
	})
}

func (a *patientAPI) ApproveAccessRequest(ctx context.Context, req *consentv1.ApproveAccessRequestRequest) (*consentv1.ApproveAccessRequestResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.ApproveAccessRequestResponse, error) {
		r, c, err := a.approveRequest(ctx, p, req.GetRequestId(), signed(req.GetGrant()))
		return &consentv1.ApproveAccessRequestResponse{Request: requestToProto(r), Consent: consentToProto(c)}, err
	})
}

func (a *patientAPI) DenyAccessRequest(ctx context.Context, req *consentv1.DenyAccessRequestRequest) (*consentv1.DenyAccessRequestResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.DenyAccessRequestResponse, error) {
		r, err := a.denyRequest(ctx, p, req.GetPatientId(), req.GetRequestId())
		return &consentv1.DenyAccessRequestResponse{Request: requestToProto(r)}, err
	})
}

// keyChange is a key change message as the ledger client takes it.
func keyChange(sp *consentv1.SignedPayload, newKeySignature string) ledger.KeyChange {
	return ledger.KeyChange{Signed: signed(sp), NewKeySignature: newKeySignature}
}

func (a *patientAPI) GetPatient(ctx context.Context, _ *consentv1.GetPatientRequest) (*consentv1.GetPatientResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.GetPatientResponse, error) {
		patient, err := a.patient(ctx, p)
		return &consentv1.GetPatientResponse{Patient: patientToProto(patient)}, err
	})
}

func (a *patientAPI) GetPatientHistory(ctx context.Context, _ *consentv1.GetPatientHistoryRequest) (*consentv1.GetPatientHistoryResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.GetPatientHistoryResponse, error) {
		vs, err := a.patientHistory(ctx, p)
		return &consentv1.GetPatientHistoryResponse{Versions: convertAll(vs, patientVersionToProto)}, err
	})
}

func (a *patientAPI) RotateKey(ctx context.Context, req *consentv1.RotateKeyRequest) (*consentv1.RotateKeyResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.RotateKeyResponse, error) {
		patient, err := a.rotateKey(ctx, p, keyChange(req.GetRotation(), req.GetNewKeySignature()))
		return &consentv1.RotateKeyResponse{Patient: patientToProto(patient)}, err
	})
}

func (a *patientAPI) RequestRecovery(ctx context.Context, req *consentv1.RequestRecoveryRequest) (*consentv1.RequestRecoveryResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.RequestRecoveryResponse, error) {
		patient, err := a.requestRecovery(ctx, p, keyChange(req.GetRecovery(), req.GetNewKeySignature()))
		return &consentv1.RequestRecoveryResponse{Patient: patientToProto(patient)}, err
	})
}

func (a *patientAPI) CancelRecovery(ctx context.Context, req *consentv1.CancelRecoveryRequest) (*consentv1.CancelRecoveryResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.CancelRecoveryResponse, error) {
		patient, err := a.cancelRecovery(ctx, p, signed(req.GetCancellation()))
		return &consentv1.CancelRecoveryResponse{Patient: patientToProto(patient)}, err
	})
}

func (a *patientAPI) CompleteRecovery(ctx context.Context, _ *consentv1.CompleteRecoveryRequest) (*consentv1.CompleteRecoveryResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.CompleteRecoveryResponse, error) {
		patient, err := a.completeRecovery(ctx, p)
		return &consentv1.CompleteRecoveryResponse{Patient: patientToProto(patient)}, err
	})
}

func (a *patientAPI) ListNotifications(ctx context.Context, req *consentv1.ListNotificationsRequest) (*consentv1.ListNotificationsResponse, error) {
	return serve(ctx, a, func(p auth.Principal) (*consentv1.ListNotificationsResponse, error) {
		notes, _, err := a.notifications(p, req.GetAfter(), req.GetPageSize())
		return &consentv1.ListNotificationsResponse{Notifications: notes}, err
	})
}

func (a *patientAPI) WatchNotifications(req *consentv1.WatchNotificationsRequest, stream grpc.ServerStreamingServer[consentv1.WatchNotificationsResponse]) error {
	ctx := stream.Context()
	p, err := caller(ctx)
	if err != nil {
		return toStatus(ctx, a.log, err)
	}
	err = a.watch(ctx, p, req.GetAfter(), func(n *consentv1.Notification) error {
		return stream.Send(&consentv1.WatchNotificationsResponse{Notification: n})
	})
	if err != nil {
		return toStatus(ctx, a.log, err)
	}
	return nil
}
