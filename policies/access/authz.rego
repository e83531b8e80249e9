# METADATA
# title: Access to patient records
# description: >-
#   Decides whether a subject may read or write one category of a patient's
#   records, for a purpose, at a time, given the patient's consents.
#   Deny by default. data.health.access.decision is always defined and says
#   why, in words a person can read. The consents in the input are never
#   trusted: grantee, patient, status and window are checked here, with the
#   same rules as the chaincode's consents:Check, plus one the ledger does not
#   know: a write needs a consent to the subject's organisation, since records
#   are filed by the organisation that holds them; a consent to the subject as
#   a user allows read only.
package health.access

# METADATA
# title: Decision
# description: >-
#   The answer: allow, the reasons (one on allow, every applicable one on
#   deny) and their codes (the access log's vocabulary, never free text),
#   the obligations the enforcement point must meet on allow
#   ("log-access" always, "log-break-glass" and "notify-patient" on
#   break-glass) and the consent that allowed the request ("" when no consent
#   was needed, and on every deny).
# scope: document
default decision := {
	"allow": false,
	"reasons": ["denied by default: no rule allows this request"],
	"codes": ["default-deny"],
	"obligations": [],
	"consent_id": "",
}

decision := {
	"allow": true,
	"reasons": [grant.reason],
	"codes": [grant.code],
	"obligations": grant.obligations,
	"consent_id": grant.consent_id,
} if {
	count(problems) == 0
	grant
	count(scope_denials) == 0
} else := {
	"allow": false,
	"reasons": deny_reasons,
	"codes": deny_codes,
	"obligations": [],
	"consent_id": "",
}

# METADATA
# title: Grant
# description: >-
#   The first rule that allows a well-formed request: a patient on their own
#   records, break-glass, then a consent (the lowest matching consent id).
grant := {
	"reason": "a patient may read their own records",
	"code": "patient-own-records",
	"obligations": ["log-access"],
	"consent_id": "",
} if {
	patient_own_records
} else := {
	"reason": sprintf("a delegate of the patient may read their records (delegation %s)", [delegation_id]),
	"code": "delegation",
	"obligations": ["log-access"],
	"consent_id": "",
} if {
	delegation_id := min(reading_delegations)
} else := {
	# The free-text break_glass_reason stays out: reasons reach the ledger's
	# access log, which must hold no health information.
	"reason": sprintf("break-glass: emergency read by clinician %s without consent", [subject_id]),
	"code": "break-glass",
	"obligations": ["log-access", "log-break-glass", "notify-patient"],
	"consent_id": "",
} if {
	break_glass_allowed
} else := {
	"reason": sprintf("allowed by consent %s", [id]),
	"code": "consent",
	"obligations": ["log-access"],
	"consent_id": id,
} if {
	id := min(matching_consents)
}

# METADATA
# title: Deny reasons
# description: >-
#   What a denied request is told: the problems of a malformed request, else
#   every rule it failed, else the default.
deny_reasons := sort(problems) if {
	count(problems) > 0
} else := sort({d.reason | some d in all_denials}) if {
	count(all_denials) > 0
} else := ["denied by default: no rule allows this request"]

# METADATA
# title: Deny codes
# description: The codes of the deny reasons, in the same order of precedence.
deny_codes := ["malformed-request"] if {
	count(problems) > 0
} else := sort({d.code | some d in all_denials}) if {
	count(all_denials) > 0
} else := ["default-deny"]

# METADATA
# title: All denials
# description: >-
#   What denied a well-formed request: the token's scopes alone when a
#   rule (the patient's own records, break-glass, a consent) allows it, else
#   the rules it failed and the scopes, if they deny too. So a deny says
#   which one denied: scope-not-granted, a consent's code, or both.
all_denials := scope_denials if {
	grant
} else := denials | scope_denials

# METADATA
# title: SMART scopes
# description: >-
#   A request whose subject acts through a SMART on FHIR app (input.smart:
#   the token carried a scope claim) is allowed only within the token's
#   resource scopes as well as the consents: a scope of the right context,
#   type and category that grants the interaction. patient/ scopes reach
#   only the launch context's patient (a patient's own id, for a patient);
#   user/ and system/ scopes reach whatever the user may reach. A token
#   without a scope claim (the exchange's own) is limited by role and
#   consents alone.
# scope: document
scope_denials contains {"code": "scope-not-granted", "reason": sprintf("the app's SMART scopes do not allow %s", [scope_ask])} if {
	is_object(request.smart)
	not scope_permits
}

scope_permits if {
	some s in request.smart.scopes
	scope_context_ok(s)
	scope_type_ok(s)
	contains(s.permissions, interaction)
	scope_category_ok(s)
}

# METADATA
# description: >-
#   The SMART permission asked for: as given, else r for a read and c for
#   a write.
interaction := request.smart.interaction if {
	request.smart.interaction != ""
} else := "r" if {
	action == "read"
} else := "c"

# METADATA
# description: What was asked, for the deny reason.
scope_ask := sprintf("%s of %s (%s) of patient %s", [interaction, request.smart.resource_type, category, patient_id]) if {
	request.smart.resource_type != ""
} else := sprintf("%s of %s of patient %s", [interaction, category, patient_id])

scope_context_ok(s) if s.context in {"user", "system"}

scope_context_ok(s) if {
	s.context == "patient"
	request.smart.launch_patient != ""
	request.smart.launch_patient == patient_id
}

# A scope of any type reaches every category; a scope of one type reaches
# the categories that type's records are in, and, when the request names
# its FHIR type, only that type.
scope_type_ok(s) if s.type == "*"

scope_type_ok(s) if {
	s.type != "*"
	category in type_categories[s.type]
	object.get(request.smart, "resource_type", "") in {"", s.type}
}

scope_category_ok(s) if s.category == ""

scope_category_ok(s) if smart_categories[s.category] == category

# METADATA
# description: >-
#   The record categories of each FHIR type the exchange files
#   (services/domain/fhir's kinds; a Go test keeps the two the same).
type_categories := {
	"Patient": {"demographics"},
	"Observation": {"labs", "vitals"},
	"Condition": {"conditions"},
	"MedicationRequest": {"prescriptions"},
	"MedicationStatement": {"medications"},
	"AllergyIntolerance": {"allergies"},
	"Immunization": {"immunizations"},
	"DiagnosticReport": {"labs"},
	"ImagingStudy": {"imaging"},
	"Procedure": {"notes"},
	"Encounter": {"notes"},
	"DocumentReference": {"notes"},
	"Claim": {"claims"},
	"ExplanationOfBenefit": {"claims"},
	"CarePlan": {"notes"},
}

# METADATA
# description: >-
#   What a scope's ?category= restriction names: an Observation category
#   code of R4 (laboratory, vital-signs) or one of the exchange's record
#   categories.
smart_categories := object.union({c: c | some c in categories}, {"laboratory": "labs", "vital-signs": "vitals"})

# Vocabularies (chaincode SPEC.md).

# METADATA
# description: Record categories a consent can cover.
categories := {
	"demographics", "conditions", "medications", "prescriptions",
	"allergies", "immunizations", "labs", "imaging", "notes", "vitals",
	"claims",
}

# METADATA
# description: Purposes of use a consent can allow.
purposes := {"treatment", "payment", "operations", "research", "emergency", "public-health", "dispensing"}

# METADATA
# description: Roles a subject can have.
roles := {"patient", "clinician", "pharmacist", "insurer", "researcher"}

# METADATA
# description: What a subject can do to a record.
actions := {"read", "write"}

# METADATA
# description: >-
#   What each role may ask for under a consent: the categories, purposes and
#   actions. Patients need no consent; researchers get none (datasets only).
#   A clinician's write also needs the consent to be given to the
#   clinician's organisation (see consent_allows_action).
consent_terms := {
	"clinician": {"categories": categories, "purposes": {"treatment"}, "actions": {"read", "write"}},
	"pharmacist": {"categories": {"prescriptions"}, "purposes": {"dispensing"}, "actions": {"read"}},
	"insurer": {"categories": {"claims"}, "purposes": {"payment"}, "actions": {"read"}},
}

# METADATA
# description: Ids are the ledger's ids (chaincode SPEC.md).
id_pattern := `^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`

# Request fields. A field that is absent or null reads as ""; a field of
# another type is undefined (and reported in problems).

# METADATA
# description: The input when it is an object, else an empty request.
request := input if {
	is_object(input)
} else := {}

# METADATA
# description: The string fields of the request and where they are.
string_fields := {
	"subject.id": ["subject", "id"],
	"subject.role": ["subject", "role"],
	"subject.org": ["subject", "org"],
	"action": ["action"],
	"resource.patient_id": ["resource", "patient_id"],
	"resource.category": ["resource", "category"],
	"resource.record_id": ["resource", "record_id"],
	"purpose": ["purpose"],
	"break_glass_reason": ["break_glass_reason"],
	"time": ["time"],
}

# METADATA
# description: The value of a string field, "" when absent or null.
field(name) := value if {
	value := object.get(request, string_fields[name], null)
	is_string(value)
} else := "" if {
	object.get(request, string_fields[name], null) == null
}

subject_id := field("subject.id")

role := field("subject.role")

subject_org := field("subject.org")

action := field("action")

patient_id := field("resource.patient_id")

category := field("resource.category")

record_id := field("resource.record_id")

purpose := field("purpose")

break_glass_reason := field("break_glass_reason")

# METADATA
# description: The request time in nanoseconds since the epoch.
now_ns := time.parse_rfc3339_ns(field("time"))

# METADATA
# description: >-
#   The consents passed in: a list, or none when absent or null (any other
#   type leaves this undefined and is a problem).
consent_list := request.consents if {
	is_array(request.consents)
} else := [] if {
	object.get(request, "consents", null) == null
}

# METADATA
# title: Problems
# description: Why a request is malformed, one per defect. Any problem denies.
# scope: document
problems contains "the input must be an object" if {
	not is_object(input)
}

problems contains sprintf("%s must be an object", [name]) if {
	some name in ["subject", "resource"]
	value := object.get(request, name, null)
	value != null
	not is_object(value)
}

problems contains sprintf("%s must be a string", [name]) if {
	some name, path in string_fields
	value := object.get(request, path, null)
	value != null
	not is_string(value)
}

problems contains sprintf("%s is missing", [name]) if {
	some name in {"subject.id", "subject.role", "action", "resource.patient_id", "resource.category"}
	field(name) == ""
}

problems contains sprintf("%s is missing (required for role %s)", [name, role]) if {
	role != "patient"
	role in roles
	some name in {"purpose", "time"}
	field(name) == ""
}

problems contains sprintf("%s %q is not a valid id", [name, value]) if {
	some name in {"subject.id", "subject.org", "resource.patient_id", "resource.record_id"}
	value := field(name)
	value != ""
	not regex.match(id_pattern, value)
}

problems contains sprintf("unknown role %q", [role]) if {
	role != ""
	not role in roles
}

problems contains sprintf("unknown action %q: must be read or write", [action]) if {
	action != ""
	not action in actions
}

problems contains sprintf("unknown category %q", [category]) if {
	category != ""
	not category in categories
}

problems contains sprintf("unknown purpose %q", [purpose]) if {
	purpose != ""
	not purpose in purposes
}

problems contains sprintf("time %q is not an RFC 3339 time", [field("time")]) if {
	field("time") != ""
	not now_ns
}

problems contains "subject.org is missing (required for a clinician's write, which needs a consent to the clinician's organisation)" if {
	role == "clinician"
	action == "write"
	subject_org == ""
}

problems contains "consents must be a list" if {
	not consent_list
}

problems contains "delegations must be a list" if {
	not delegation_list
}

# METADATA
# description: >-
#   The delegations passed in (those the patient gave the subject): a
#   list, or none when absent or null.
delegation_list := request.delegations if {
	is_array(request.delegations)
} else := [] if {
	object.get(request, "delegations", null) == null
}

# Rule 1b: delegates.

# METADATA
# title: A delegate reading for the patient
# description: >-
#   A parent, guardian or carer the patient delegated the power to read
#   (on the ledger, signed by the patient's key) reads the patient's
#   records while the delegation is active and before its end; the access
#   log marks each such read "delegation". A delegate never writes.
reading_delegations contains d.delegation_id if {
	role == "patient"
	subject_id != ""
	subject_id != patient_id
	action == "read"
	some d in delegation_list
	d.patient_id == patient_id
	d.delegate_id == subject_id
	d.status == "active"
	"read" in d.powers
	time.parse_rfc3339_ns(request.time) < time.parse_rfc3339_ns(d.expires_at)
}

# Rule 1: patients.

# METADATA
# title: Patient on their own records
# description: >-
#   A patient may read their own records, and nothing of another's. Records
#   are filed by the organisations that hold them, so a patient writes none.
patient_own_records if {
	role == "patient"
	subject_id != ""
	subject_id == patient_id
	action == "read"
}

# METADATA
# title: Denials
# description: >-
#   Why a well-formed request is denied, one per rule it fails (rules 1 to 5
#   below): each a code and a reason.
# scope: document
denials contains {"code": "other-patient", "reason": "a patient may only access their own records"} if {
	role == "patient"
	subject_id != patient_id
}

denials contains {"code": "role-action", "reason": "records are filed by the organisations that hold them: a patient reads their records, never writes them"} if {
	role == "patient"
	action == "write"
}

# Rule 4: researchers.

# METADATA
# title: Researchers
# description: No direct record access for researchers; research goes through anonymized datasets.
denials contains {"code": "researcher-no-direct-access", "reason": "researchers have no direct record access: anonymized datasets are the only research access"} if {
	role == "researcher"
}

# Rule 5: break-glass.

# METADATA
# title: Break-glass
# description: >-
#   A clinician reading any category without consent in an emergency:
#   purpose "emergency" and a reason of at least 10 characters once trimmed.
#   Write, a missing or short reason, or another role is denied.
break_glass_allowed if {
	role == "clinician"
	purpose == "emergency"
	action == "read"
	proper_break_glass_reason
}

# METADATA
# description: A break-glass reason of at least 10 characters once trimmed.
proper_break_glass_reason if {
	count(trim_space(break_glass_reason)) >= 10
}

denials contains {"code": "break-glass-clinicians-only", "reason": "break-glass (purpose emergency) is only for clinicians"} if {
	purpose == "emergency"
	role != "clinician"
	not patient_own_records
}

denials contains {"code": "break-glass-read-only", "reason": "break-glass allows read only, never write"} if {
	role == "clinician"
	purpose == "emergency"
	action != "read"
}

denials contains {"code": "break-glass-reason-missing", "reason": "break-glass needs a break_glass_reason of at least 10 characters"} if {
	role == "clinician"
	purpose == "emergency"
	not proper_break_glass_reason
}

# Rules 2 and 3: clinicians, pharmacists and insurers under a consent.

# METADATA
# title: Role restrictions
# description: What clinicians, pharmacists and insurers may ask for at all, before any consent.
role_permits if {
	terms := consent_terms[role]
	category in terms.categories
	purpose in terms.purposes
	action in terms.actions
}

denials contains {"code": "role-purpose", "reason": "clinicians need purpose treatment (or emergency, for break-glass)"} if {
	role == "clinician"
	not purpose in {"treatment", "emergency"}
}

denials contains {"code": "role-category", "reason": sprintf("%ss may only access %s", [role, concat(", ", consent_terms[role].categories)])} if {
	role in {"pharmacist", "insurer"}
	not category in consent_terms[role].categories
}

denials contains {"code": "role-purpose", "reason": sprintf("%ss may only use purpose %s", [role, concat(", ", consent_terms[role].purposes)])} if {
	role in {"pharmacist", "insurer"}
	purpose != "emergency" # said by the break-glass denial
	not purpose in consent_terms[role].purposes
}

denials contains {"code": "role-action", "reason": sprintf("%ss may only read", [role])} if {
	role in {"pharmacist", "insurer"}
	not action in consent_terms[role].actions
}

denials contains closest_consent_denial if {
	role_permits
	count(matching_consents) == 0
}

# METADATA
# title: Consents given to the subject
# description: >-
#   The consents (by position in the list) that name the subject, or the
#   subject's organisation, as grantee, and that this patient gave (a
#   consent names its patient, and another patient's consent never counts).
#   Malformed entries are skipped.
given_consents[i] := c if {
	some i, c in consent_list
	is_object(c)
	is_string(c.consent_id)
	c.consent_id != ""
	granted_to_subject(c)
	c.patient_id == patient_id
}

# METADATA
# description: >-
#   The grantee is the subject at their organisation (user, "<org>/<id>": the
#   same user name at another organisation is someone else) or the subject's
#   organisation (org).
granted_to_subject(c) if {
	c.grantee.kind == "user"
	subject_id != ""
	subject_org != ""
	c.grantee.id == sprintf("%s/%s", [subject_org, subject_id])
}

granted_to_subject(c) if {
	c.grantee.kind == "org"
	subject_org != ""
	c.grantee.id == subject_org
}

# METADATA
# title: Matching consents
# description: The ids of the consents that allow the request (the lowest wins).
matching_consents contains c.consent_id if {
	role_permits
	some c in given_consents
	consent_allows(c)
	consent_allows_action(c)
}

# METADATA
# title: Write needs a consent to the organisation
# description: >-
#   Any consent given to the subject allows read. Only a consent given to the
#   subject's organisation allows write: records are filed by the
#   organisation that holds them, so a consent to one person lets them read
#   the patient's chart, not file records in it.
consent_allows_action(_) if {
	action == "read"
}

consent_allows_action(c) if {
	action == "write"
	c.grantee.kind == "org"
}

# METADATA
# description: >-
#   A consent allows the request when it is active, in force at the request
#   time (not_before <= time < expires_at, "" open) and covers the category,
#   the purpose and the record (record_ids empty, or naming the record; a
#   request for no particular record needs a consent without record_ids).
consent_allows(c) if {
	category in as_list(c.categories)
	purpose in as_list(c.purposes)
	record_covered(c)
	c.status == "active"
	started(c)
	not_expired(c)
}

# METADATA
# description: The consent's record_ids, [] when absent or null, undefined when not a list.
record_ids(c) := c.record_ids if {
	is_array(c.record_ids)
} else := [] if {
	object.get(c, "record_ids", null) == null
}

record_covered(c) if {
	count(record_ids(c)) == 0
}

record_covered(c) if {
	record_id != ""
	record_id in record_ids(c)
}

# METADATA
# description: The consent has begun at the request time (no not_before means from the grant).
started(c) if {
	object.get(c, "not_before", "") in {"", null}
}

started(c) if {
	time.parse_rfc3339_ns(c.not_before) <= now_ns
}

# METADATA
# description: The consent has not expired at the request time (no expires_at means never).
not_expired(c) if {
	object.get(c, "expires_at", "") in {"", null}
}

not_expired(c) if {
	now_ns < time.parse_rfc3339_ns(c.expires_at)
}

not_expired(c) if {
	after_nanosecond_range(c.expires_at)
}

# METADATA
# description: >-
#   A valid RFC 3339 time too late for nanoseconds since the epoch (after
#   2262-04-11), which time.parse_rfc3339_ns refuses: later than any request
#   time. The Gregorian calendar repeats every 400 years, so the time is valid
#   when the same date a multiple of 400 years earlier is.
after_nanosecond_range(t) if {
	is_string(t)
	not time.parse_rfc3339_ns(t)
	regex.match(`^[0-9]{4}-`, t)
	year := to_number(substring(t, 0, 4))
	year >= 2262
	time.parse_rfc3339_ns(sprintf("%d%s", [same_calendar_year(year), substring(t, 4, -1)]))
}

# METADATA
# description: >-
#   A year between 1800 and 2199 whose calendar is the same as the year's
#   (same leap years, same weekdays): a multiple of 400 years away.
same_calendar_year(year) := 2000 + (year % 400) if {
	year % 400 < 200
} else := 1600 + (year % 400)

# METADATA
# description: A time the policy can compare with the request time.
valid_time(t) if {
	time.parse_rfc3339_ns(t)
}

valid_time(t) if {
	after_nanosecond_range(t)
}

# METADATA
# description: A value as a list, [] when it is not one.
as_list(x) := x if {
	is_array(x)
} else := []

# METADATA
# title: Closest consent
# description: >-
#   Why no consent allowed the request, as the chaincode says it: the reason
#   of the consent that covers most of the request (category, then purpose,
#   then record, then status and time), the lowest consent id on ties.
closest_consent_denial := {"code": code, "reason": reason} if {
	count(consent_denials) > 0
	most := max({d.covers | some d in consent_denials})
	[_, reason, code] := min({[given_consents[i].consent_id, d.reason, d.code] |
		some i, d in consent_denials
		d.covers == most
	})
} else := {"code": "no-consent", "reason": "no consent is given to this subject"}

# METADATA
# description: How each consent given to the subject falls short, by position.
consent_denials[i] := consent_denial(c) if {
	some i, c in given_consents
}

# METADATA
# description: >-
#   How much of the request a consent covers and why it does not allow it,
#   in the chaincode's order (category, purpose, record, status, start,
#   expiry), then the action: a consent to the user that covers all the rest
#   of a write is the closest, and says it allows read only.
consent_denial(c) := {"covers": 0, "code": "category-not-granted", "reason": sprintf("category %s is not granted by consent %s", [category, c.consent_id])} if {
	not category in as_list(c.categories)
} else := {"covers": 1, "code": "purpose-not-granted", "reason": sprintf("purpose %s is not granted by consent %s", [purpose, c.consent_id])} if {
	not purpose in as_list(c.purposes)
} else := {"covers": 2, "code": "consent-malformed", "reason": sprintf("record_ids of consent %s are malformed", [c.consent_id])} if {
	not record_ids(c)
} else := {"covers": 2, "code": "record-not-granted", "reason": sprintf("record not granted: consent %s covers named records only", [c.consent_id])} if {
	count(record_ids(c)) > 0
	record_id == ""
} else := {"covers": 2, "code": "record-not-granted", "reason": sprintf("record %s is not granted by consent %s", [record_id, c.consent_id])} if {
	not record_covered(c)
} else := {"covers": 3, "code": "consent-revoked", "reason": sprintf("consent %s is revoked", [c.consent_id])} if {
	c.status == "revoked"
} else := {"covers": 3, "code": "consent-inactive", "reason": sprintf("consent %s is not active", [c.consent_id])} if {
	object.get(c, "status", "") != "active"
} else := {"covers": 3, "code": "consent-malformed", "reason": sprintf("consent %s has an invalid not_before", [c.consent_id])} if {
	not started(c)
	not valid_time(c.not_before)
} else := {"covers": 3, "code": "consent-malformed", "reason": sprintf("consent %s has an invalid expires_at", [c.consent_id])} if {
	not not_expired(c)
	not valid_time(c.expires_at)
} else := {"covers": 3, "code": "consent-not-yet-valid", "reason": sprintf("consent %s is not yet valid: it starts at %v", [c.consent_id, c.not_before])} if {
	not started(c)
} else := {"covers": 3, "code": "consent-expired", "reason": sprintf("consent %s expired at %v", [c.consent_id, c.expires_at])} if {
	not not_expired(c)
} else := {"covers": 4, "code": "consent-read-only", "reason": sprintf("write needs a consent to organisation %s: consent %s is given to user %s and allows read only", [subject_org, c.consent_id, subject_id])} if {
	not consent_allows_action(c)
	c.grantee.kind == "user"
} else := {"covers": 3, "code": "default-deny", "reason": sprintf("consent %s does not allow this request", [c.consent_id])}

# Fast allow.

# METADATA
# title: Fast allow
# description: >-
#   The allow of decision, found cheaply, for a request the decision point
#   has already checked (ids, vocabularies and types well formed, as
#   problems requires) and with the times given as nanoseconds: the request's
#   (time_ns) and each consent's window (not_before_ns, open: 0;
#   expires_at_ns, open: the largest), computed from the same RFC 3339
#   strings. Its value is the grant's code, or the allowing consent's id;
#   undefined when it finds no allow, and then decision decides (and says
#   why). It never allows what decision denies: the tests compare the two on
#   every kind of request (policies_test.go and the engine's property test).
#   Pharmacists and insurers, and every request through a SMART app
#   (input.smart), are left to decision.
fast_allow := "patient-own-records" if {
	not input.smart
	input.subject.role == "patient"
	input.subject.id == input.resource.patient_id
	input.action == "read"
} else := "break-glass" if {
	not input.smart
	input.subject.role == "clinician"
	input.purpose == "emergency"
	input.action == "read"
	count(trim_space(input.break_glass_reason)) >= 10
} else := id if {
	id := min(fast_matching)
}

# METADATA
# description: The ids of the consents that allow a clinician's request, found cheaply.
fast_matching contains c.consent_id if {
	not input.smart
	input.subject.role == "clinician"
	input.purpose == "treatment"
	some c in input.consents
	c.status == "active"
	c.patient_id == input.resource.patient_id
	c.not_before_ns <= input.time_ns
	input.time_ns < c.expires_at_ns
	input.resource.category in c.categories
	input.purpose in c.purposes
	fast_granted(c)
	fast_record(c)
	fast_action(c)
}

fast_granted(c) if {
	c.grantee.kind == "user"
	input.subject.org != ""
	c.grantee.id == input.subject.key
}

fast_granted(c) if {
	c.grantee.kind == "org"
	input.subject.org != ""
	c.grantee.id == input.subject.org
}

fast_record(c) if count(c.record_ids) == 0

fast_record(c) if {
	input.resource.record_id != ""
	input.resource.record_id in c.record_ids
}

fast_action(_) if input.action == "read"

fast_action(c) if {
	input.action == "write"
	c.grantee.kind == "org"
}
