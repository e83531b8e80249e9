package consent

import (
	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
)

func consentToProto(c ledgerapi.Consent) *consentv1.Consent {
	return &consentv1.Consent{
		ConsentId:  c.ConsentID,
		PatientId:  c.PatientID,
		Grantee:    &consentv1.Grantee{Kind: c.Grantee.Kind, Id: c.Grantee.ID},
		Categories: c.Categories,
		Purposes:   c.Purposes,
		RecordIds:  c.RecordIDs,
		NotBefore:  c.NotBefore,
		ExpiresAt:  c.ExpiresAt,
		Status:     c.Status,
		GrantedAt:  c.GrantedAt,
		RevokedAt:  c.RevokedAt,
		GrantedBy:  c.GrantedBy,
		RevokedBy:  c.RevokedBy,
	}
}

func delegationToProto(d ledgerapi.Delegation) *consentv1.Delegation {
	return &consentv1.Delegation{DelegationId: d.DelegationID, PatientId: d.PatientID, DelegateId: d.DelegateID, DelegateKey: d.DelegateKey,
		Relationship: d.Relationship, Powers: d.Powers, ExpiresAt: d.ExpiresAt, Status: d.Status, GrantedAt: d.GrantedAt,
		RevokedAt: d.RevokedAt, Nonce: d.Nonce, RegisteredBy: d.RegisteredBy}
}

func eventToProto(e ledgerapi.AccessEvent) *consentv1.AccessEvent {
	return &consentv1.AccessEvent{
		EventId:       e.EventID,
		Actor:         e.Actor,
		ActorOrg:      e.ActorOrg,
		PatientId:     e.PatientID,
		Action:        e.Action,
		Resource:      e.Resource,
		Purpose:       e.Purpose,
		Decision:      e.Decision,
		BreakGlass:    e.BreakGlass,
		Time:          e.Time,
		ActorRole:     e.ActorRole,
		ReasonCodes:   e.ReasonCodes,
		BreakGlassRef: e.BreakGlassRef,
		RecordedBy:    e.RecordedBy,
	}
}

func patientToProto(p ledgerapi.Patient) *consentv1.Patient {
	out := &consentv1.Patient{
		PatientId: p.PatientID, PublicKey: p.PublicKey, Nonce: p.Nonce, RegisteredAt: p.RegisteredAt,
		KeyVersion: int32(p.KeyVersion), KeyChangedAt: p.KeyChangedAt, RecoveryKey: p.RecoveryKey,
		RecoveryDelaySeconds: p.RecoveryDelaySeconds, RecoveryNonce: p.RecoveryNonce,
		RegisteredBy: p.RegisteredBy, MajorityAt: p.MajorityAt,
	}
	if r := p.Recovery; r != nil {
		out.Recovery = &consentv1.PendingRecovery{NewPublicKey: r.NewPublicKey, RequestedAt: r.RequestedAt, EffectiveAt: r.EffectiveAt}
	}
	return out
}

func patientVersionToProto(v ledgerapi.PatientVersion) *consentv1.PatientVersion {
	return &consentv1.PatientVersion{TxId: v.TxID, Timestamp: v.Timestamp, Patient: patientToProto(v.Patient)}
}

func requestToProto(r accessRequest) *consentv1.AccessRequest {
	return &consentv1.AccessRequest{
		RequestId:     r.RequestID,
		PatientId:     r.PatientID,
		Requester:     r.Requester,
		RequesterOrg:  r.RequesterOrg,
		RequesterRole: r.RequesterRole,
		Categories:    r.Categories,
		Purposes:      r.Purposes,
		Reason:        r.Reason,
		State:         r.State,
		ConsentId:     r.ConsentID,
		CreatedAt:     r.CreatedAt,
		AnsweredAt:    r.AnsweredAt,
	}
}

func deviceToProto(d ledgerapi.Device) *consentv1.Device {
	return &consentv1.Device{
		DeviceId:     d.DeviceID,
		PatientId:    d.PatientID,
		PublicKey:    d.PublicKey,
		Status:       d.Status,
		RegisteredAt: d.RegisteredAt,
		RevokedAt:    d.RevokedAt,
	}
}

// convertAll converts every item.
func convertAll[T, M any](items []T, convert func(T) M) []M {
	out := make([]M, len(items))
	for i, item := range items {
		out[i] = convert(item)
	}
	return out
}
