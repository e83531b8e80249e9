package records

import (
	"net/http"

	"healthexchange/services/domain/fhir"
)

// capabilityStatement describes what the FHIR API does, and nothing it
// does not: R4 JSON, the served types with read, vread, history, create,
// update (versioned: If-Match required, no update-as-create) and search by
// patient and the type's parameters.
func capabilityStatement(base string) map[string]any {
	var resources []map[string]any
	for _, typ := range fhir.SearchTypes() {
		params := []map[string]any{
			{"name": "patient", "type": "reference", "documentation": "required: every search is of one patient's records (a patient's own by default)"},
		}
		docs := map[string]string{
			"category": "token: system|code, |code, system| or code; a comma separates alternatives",
			"code":     "token: system|code, |code, system| or code; a comma separates alternatives",
			"date":     "prefixes eq ne lt gt le ge sa eb; repeat for a range",
		}
		types := map[string]string{"category": "token", "code": "token", "date": "date"}
		for _, p := range fhir.SearchParams(typ) {
			params = append(params, map[string]any{"name": p, "type": types[p], "documentation": docs[p]})
		}
		params = append(params, map[string]any{"name": "_count", "type": "number", "documentation": "page size, 1 to 100 (default 20); pages follow the Bundle's next link"})
		doc := "the patient's records of this type, as filed"
		if typ == "Observation" {
			doc += "; a search with category vital-signs (or activity) and a date range of at most 7 days also returns the patient's " +
				"wearable readings as vital-signs Observations (search only: their ids are not readable one by one)"
		}
		resources = append(resources, map[string]any{
			"type":          typ,
			"documentation": doc,
			"interaction": []map[string]string{
				{"code": "read"}, {"code": "vread"}, {"code": "history-instance"}, {"code": "create"}, {"code": "update"}, {"code": "search-type"},
			},
			"versioning":        "versioned-update",
			"readHistory":       true,
			"updateCreate":      false,
			"conditionalCreate": false,
			"conditionalRead":   "not-supported",
			"conditionalUpdate": false,
			"conditionalDelete": "not-supported",
			"searchParam":       params,
		})
	}
	for _, typ := range []string{"Consent", "AuditEvent"} {
		params := []map[string]any{
			{"name": "patient", "type": "reference", "documentation": "the calling patient's own (the default); no one else's"},
		}
		if typ == "Consent" {
			params = append(params, map[string]any{"name": "status", "type": "token", "documentation": "active or inactive (revoked)"})
		} else {
			params = append(params, map[string]any{"name": "date", "type": "date", "documentation": "when the access was recorded; prefixes eq ne lt gt le ge sa eb"})
		}
		params = append(params, map[string]any{"name": "_count", "type": "number", "documentation": "page size, 1 to 100 (default 20), newest first"})
		resources = append(resources, map[string]any{
			"type":          typ,
			"documentation": "read-only, for the patient alone: the ledger's " + map[string]string{"Consent": "consents", "AuditEvent": "access log (IHE BALP)"}[typ],
			"interaction":   []map[string]string{{"code": "read"}, {"code": "search-type"}},
			"searchParam":   params,
		})
	}
	return map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         "2026-12-04",
		"publisher":    "health exchange",
		"kind":         "instance",
		"software":     map[string]string{"name": "healthexchange records service"},
		"implementation": map[string]string{
			"description": "Patient-controlled record exchange: every read is decided by the patient's consents and logged on the ledger; every version's hash is notarized.",
			"url":         base,
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"rest": []map[string]any{{
			"mode": "server",
			"documentation": "Bearer tokens of the exchange's identity providers (audience health-exchange/records). " +
				"Reads are allowed by the patient's consents; a denial is 403 with an OperationOutcome naming the policy's reasons. " +
				"Search totals and pages count only what the caller may read. Resources are served as filed, with the server's id and meta.",
			"security": map[string]any{"description": "OAuth2 bearer tokens (JWT) from the exchange's identity providers"},
			"resource": resources,
		}},
	}
}

// metadata serves GET /metadata, public.
func (a *fhirAPI) metadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, capabilityStatement(baseURL(r)))
}

// smartConfiguration describes the SMART on FHIR side of the API, and only
// what is true of it: the scopes it enforces and how. It names no
// authorization or token endpoint because the exchange has none: tokens
// are issued by the organisations' identity providers (and, in the
// development profile, by hxtoken), with the scope claim the app was
// granted there.
func smartConfiguration(base string) map[string]any {
	return map[string]any{
		"capabilities": []string{"permission-v2", "permission-v1", "permission-patient", "permission-user"},
		"scopes_supported": []string{
			"patient/*.cruds", "user/*.cruds", "system/*.cruds",
			"patient/Observation.rs?category=laboratory", "patient/Observation.rs?category=vital-signs",
			"patient/Consent.rs", "patient/AuditEvent.rs",
		},
		"grant_types_supported": []string{},
		"fhir_base":             base,
		"description": "Bearer JWTs of the exchange's identity providers (audience health-exchange/records). A token with a scope claim " +
			"is a SMART app's: every request is allowed only within both its resource scopes (patient/, user/, system/; " +
			"permissions c r u d s; v1 read/write/* accepted; one ?category= restriction, an Observation category code or a " +
			"record category) and the patient's consents, and a denial says which one denied (scope-not-granted, or the " +
			"consent's reason). patient/ scopes reach the token's patient claim (a patient's own id for a patient). " +
			"A token without a scope claim is the exchange's own, limited by role and consents. There is no " +
			"authorization or token endpoint here: the organisations' identity providers issue the tokens.",
	}
}

// smartConfigurationHandler serves GET .well-known/smart-configuration,
// public.
func smartConfigurationHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := fhir.Marshal(smartConfiguration(baseURL(r)))
	w.Write(b)
}
