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
	}
}

func eventToProto(e ledgerapi.AccessEvent) *consentv1.AccessEvent {
	return &consentv1.AccessEvent{
		EventId:    e.EventID,
		Actor:      e.Actor,
		ActorOrg:   e.ActorOrg,
		PatientId:  e.PatientID,
		Action:     e.Action,
		Resource:   e.Resource,
		Purpose:    e.Purpose,
		Decision:   e.Decision,
		BreakGlass: e.BreakGlass,
		Reason:     e.Reason,
		Time:       e.Time,
	}
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
