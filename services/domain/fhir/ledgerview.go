package fhir

import (
	"strings"

	"healthexchange/chaincode/ledgerapi"
)

// Code systems the ledger views use. The exchange's own vocabularies
// (categories, reason codes, organisations, users, ledger transactions)
// are named by urn:healthexchange: systems.
const (
	systemActReason    = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemCategory     = "urn:healthexchange:category"
	systemRecord       = "urn:healthexchange:record"
	systemOrganisation = "urn:healthexchange:organisation"
	systemTransaction  = "urn:healthexchange:ledger-transaction"
	systemStudy        = "urn:healthexchange:study"
	balpProfilePrefix  = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
	systemUserPrefix   = "urn:healthexchange:user:"
)

// purposeCodes maps the exchange's purposes of use to HL7 v3 ActReason.
var purposeCodes = map[string][2]string{
	"treatment":     {"TREAT", "treatment"},
	"payment":       {"HPAYMT", "healthcare payment"},
	"operations":    {"HOPERAT", "healthcare operations"},
	"research":      {"HRESCH", "healthcare research"},
	"emergency":     {"ETREAT", "emergency treatment"},
	"public-health": {"PUBHLTH", "public health"},
}

func purposeCoding(purpose string) map[string]string {
	c, ok := purposeCodes[purpose]
	if !ok {
		return map[string]string{"system": "urn:healthexchange:purpose", "code": purpose}
	}
	return map[string]string{"system": systemActReason, "code": c[0], "display": c[1]}
}

// granteeReference is the FHIR Reference of a consent's grantee: a
// practitioner of an organisation, an organisation, or a research study,
// each by identifier (the exchange has no Practitioner resources).
func granteeReference(g ledgerapi.Grantee) map[string]any {
	switch g.Kind {
	case ledgerapi.GranteeUser:
		org, user, _ := g.User()
		return map[string]any{"type": "Practitioner", "identifier": map[string]string{"system": systemUserPrefix + org, "value": user},
			"display": user + " (" + orgName(org) + ")"}
	case ledgerapi.GranteeOrg:
		return map[string]any{"type": "Organization", "identifier": map[string]string{"system": systemOrganisation, "value": g.ID},
			"display": orgName(g.ID)}
	default:
		return map[string]any{"type": "ResearchStudy", "identifier": map[string]string{"system": systemStudy, "value": g.ID}}
	}
}

func orgName(msp string) string {
	if o, ok := ledgerapi.OrganisationOf(msp); ok {
		return o.Name
	}
	return msp
}

// ConsentResource is a consent on the ledger as an R4 Consent: who may
// (provision.actor) see which categories (provision.class) or records
// (provision.data) for which purposes (provision.purpose) during which
// period (provision.period), with the grant's ledger transaction as an
// identifier. A revoked consent is inactive. lastUpdated is when the
// ledger last changed it.
func ConsentResource(c ledgerapi.Consent) ([]byte, error) {
	status, updated := "active", c.GrantedAt
	if c.Status == ledgerapi.StatusRevoked {
		status, updated = "inactive", c.RevokedAt
	}
	version := "1"
	if c.RevokeTxID != "" {
		version = "2"
	}
	period := map[string]string{"start": c.GrantedAt}
	if c.NotBefore != "" {
		period["start"] = c.NotBefore
	}
	if c.ExpiresAt != "" {
		period["end"] = c.ExpiresAt
	}
	var classes []map[string]string
	for _, cat := range c.Categories {
		classes = append(classes, map[string]string{"system": systemCategory, "code": cat})
	}
	var purposes []map[string]string
	for _, p := range c.Purposes {
		purposes = append(purposes, purposeCoding(p))
	}
	provision := map[string]any{
		"type":   "permit",
		"period": period,
		"actor": []map[string]any{{
			"role":      concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient"),
			"reference": granteeReference(c.Grantee),
		}},
		"action":  []map[string]any{concept("http://terminology.hl7.org/CodeSystem/consentaction", "access", "Access")},
		"purpose": purposes,
		"class":   classes,
	}
	if len(c.RecordIDs) > 0 {
		var data []map[string]any
		for _, id := range c.RecordIDs {
			data = append(data, map[string]any{"meaning": "instance",
				"reference": map[string]any{"identifier": map[string]string{"system": systemRecord, "value": id}}})
		}
		provision["data"] = data
	}
	identifiers := []map[string]string{{"system": systemTransaction, "value": c.GrantTxID}}
	if c.RevokeTxID != "" {
		identifiers = append(identifiers, map[string]string{"system": systemTransaction, "value": c.RevokeTxID})
	}
	return Marshal(map[string]any{
		"resourceType": "Consent",
		"id":           c.ConsentID,
		"meta":         map[string]string{"versionId": version, "lastUpdated": updated},
		"identifier":   identifiers,
		"status":       status,
		"scope":        concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", "Privacy Consent"),
		"category":     []map[string]any{concept("http://loinc.org", "59284-0", "Patient Consent")},
		"patient":      map[string]string{"reference": "Patient/" + c.PatientID},
		"dateTime":     c.GrantedAt,
		"policyRule":   concept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN", "opt-in"),
		"provision":    provision,
	})
}

func concept(system, code, display string) map[string]any {
	return map[string]any{"coding": []map[string]string{{"system": system, "code": code, "display": display}}}
}

func coding(system, code, display string) map[string]string {
	return map[string]string{"system": system, "code": code, "display": display}
}

// AuditEventResource is an access event on the ledger as an R4 AuditEvent,
// following the IHE Basic Audit Log Patterns (BALP): a RESTful read or
// create (the Read and Create profiles), its outcome (0 allowed, 4 denied,
// with the policy's reason codes), its purpose of use (and BTG for a
// break-glass access), the person who asked (agent, requestor) and the
// service that decided (agent, source), the patient and the data (entity),
// and the ledger transaction that recorded it (entity).
func AuditEventResource(e ledgerapi.AccessEvent) ([]byte, error) {
	subtype, action, profile := map[string]string{"system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"}, "R", "IHE.BasicAudit.Read"
	switch e.Action {
	case ledgerapi.ActionWrite:
		subtype, action, profile = coding("http://hl7.org/fhir/restful-interaction", "create", "create"), "C", "IHE.BasicAudit.Create"
	case ledgerapi.ActionErase:
		subtype, action, profile = coding("http://hl7.org/fhir/restful-interaction", "delete", "delete"), "D", "IHE.BasicAudit.Delete"
	case ledgerapi.ActionVerify:
		subtype, action, profile = coding("urn:healthexchange:action", "verify", "integrity check"), "E", ""
	}
	outcome, desc := "0", ""
	if e.Decision == ledgerapi.DecisionDeny {
		outcome = "4"
	}
	desc = strings.Join(e.ReasonCodes, " ")
	var purposes []map[string]any
	if e.Purpose != "" {
		purposes = append(purposes, map[string]any{"coding": []map[string]string{purposeCoding(e.Purpose)}})
	}
	if e.BreakGlass {
		purposes = append(purposes, concept(systemActReason, "BTG", "break the glass"))
	}
	who := map[string]any{"identifier": map[string]string{"system": "urn:healthexchange:patient", "value": e.Actor}}
	if e.ActorRole != ledgerapi.RolePatient {
		who = map[string]any{"identifier": map[string]string{"system": systemUserPrefix + e.ActorOrg, "value": e.Actor},
			"display": e.Actor + " (" + orgName(e.ActorOrg) + ")"}
	}
	recordedBy := e.RecordedBy
	if recordedBy == "" {
		recordedBy = e.ActorOrg
	}
	server := map[string]any{"identifier": map[string]string{"system": systemOrganisation, "value": recordedBy}, "display": orgName(recordedBy)}
	kind, value, _ := strings.Cut(e.Resource, "/")
	data := map[string]any{
		"what": map[string]any{"identifier": map[string]string{"system": "urn:healthexchange:" + kind, "value": value}},
		"type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
		"role": coding("http://terminology.hl7.org/CodeSystem/object-role", "4", "Domain Resource"),
	}
	if kind == "record" {
		data["what"] = map[string]any{"identifier": map[string]string{"system": systemRecord, "value": value}}
	}
	entities := []map[string]any{
		{
			"what": map[string]string{"reference": "Patient/" + e.PatientID},
			"type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"),
			"role": coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"),
		},
		data,
	}
	if e.TxID != "" {
		entities = append(entities, map[string]any{
			"what":        map[string]any{"identifier": map[string]string{"system": systemTransaction, "value": e.TxID}},
			"type":        coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
			"description": "the ledger transaction that recorded this event",
		})
	}
	agentType := coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user")
	r := map[string]any{
		"resourceType": "AuditEvent",
		"id":           e.EventID,
		"meta":         map[string]any{"versionId": "1", "lastUpdated": e.Time},
		"type":         coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation"),
		"subtype":      []map[string]string{subtype},
		"action":       action,
		"recorded":     e.Time,
		"outcome":      outcome,
		"agent": []map[string]any{
			{
				"type":      map[string]any{"coding": []map[string]string{agentType}},
				"role":      []map[string]any{concept("urn:healthexchange:role", e.ActorRole, e.ActorRole)},
				"who":       who,
				"requestor": true,
			},
			{
				"type":      concept("http://dicom.nema.org/resources/ontology/DCM", "110153", "Source Role ID"),
				"who":       server,
				"requestor": false,
			},
		},
		"source": map[string]any{
			"observer": server,
			"type":     []map[string]string{coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")},
		},
		"entity": entities,
	}
	if profile != "" {
		r["meta"].(map[string]any)["profile"] = []string{balpProfilePrefix + profile}
	}
	if desc != "" {
		r["outcomeDesc"] = desc
	}
	if purposes != nil {
		r["purposeOfEvent"] = purposes
	}
	return Marshal(r)
}
