package health.access_test

import data.health.access

# Fixtures. A request is the clinician request below, patched with
# object.union (objects merge, everything else is replaced).

now := "2030-06-01T12:00:00Z"

base := {
	"subject": {"id": "dr-ada", "role": "clinician", "org": "clinic-north"},
	"action": "read",
	"resource": {"patient_id": "pat-1", "category": "labs", "record_id": "rec-1"},
	"purpose": "treatment",
	"break_glass_reason": "",
	"time": now,
	"consents": [],
}

# consent returns pat-1's consent to dr-ada of clinic-north for labs, for
# treatment, open-ended, patched.
consent(id, patch) := object.union(
	{
		"consent_id": id,
		"patient_id": "pat-1",
		"grantee": {"kind": "user", "id": "clinic-north/dr-ada"},
		"categories": ["labs"],
		"purposes": ["treatment"],
		"record_ids": [],
		"not_before": "",
		"expires_at": "",
		"status": "active",
	},
	patch,
)

decide(patch) := d if {
	d := access.decision with input as object.union(base, patch)
}

with_consents(patch, consents) := decide(object.union(patch, {"consents": consents}))

allowed_by(d, id) if {
	d == {
		"allow": true,
		"reasons": [sprintf("allowed by consent %s", [id])],
		"codes": ["consent"],
		"obligations": ["log-access"],
		"consent_id": id,
	}
}

denied_because(d, reason) if {
	d.allow == false
	reason in d.reasons
	count(d.codes) > 0
	d.obligations == []
	d.consent_id == ""
}

# denied_with is a deny whose codes are exactly codes.
denied_with(d, codes) if {
	d.allow == false
	d.codes == codes
}

# The decision is always defined and of the right shape.

test_decision_defined_without_input if {
	d := access.decision
	d.allow == false
	count(d.reasons) > 0
}

test_decision_defined_for_non_object_input if {
	d := access.decision with input as ["not", "an", "object"]
	denied_because(d, "the input must be an object")
}

test_decision_shape_on_deny if {
	d := decide({})
	object.keys(d) == {"allow", "reasons", "codes", "obligations", "consent_id"}
	d.allow == false
}

# Rule 1: patients.

patient := {"subject": {"id": "pat-1", "role": "patient", "org": ""}, "purpose": "", "time": ""}

test_patient_reads_own_records if {
	d := decide(patient)
	d == {
		"allow": true,
		"reasons": ["a patient may read their own records"],
		"codes": ["patient-own-records"],
		"obligations": ["log-access"],
		"consent_id": "",
	}
}

test_patient_does_not_write_records if {
	d := decide(object.union(patient, {"action": "write", "resource": {"category": "notes"}}))
	denied_with(d, ["role-action"])
}

test_patient_denied_on_another_patients_records if {
	d := decide(object.union(patient, {"resource": {"patient_id": "pat-2"}}))
	denied_because(d, "a patient may only access their own records")
}

test_patient_denied_on_another_patients_records_even_with_consent if {
	d := with_consents(
		object.union(patient, {"resource": {"patient_id": "pat-2"}}),
		[consent("c1", {"grantee": {"kind": "user", "id": "pat-1"}})],
	)
	denied_because(d, "a patient may only access their own records")
}

# Rule 1b: a delegate (a parent of pat-2) reads for the patient.

delegate_request := object.union(patient, {"resource": {"patient_id": "pat-2"}, "time": "2030-06-01T00:00:00Z"})

delegation(id, patch) := object.union(
	{
		"delegation_id": id, "patient_id": "pat-2", "delegate_id": "pat-1", "powers": ["grant", "read"],
		"status": "active", "expires_at": "2031-01-01T00:00:00Z",
	},
	patch,
)

with_delegations(patch, ds) := decide(object.union(object.union(delegate_request, patch), {"delegations": ds}))

test_delegate_reads_for_the_patient if {
	d := with_delegations({}, [delegation("d-2", {}), delegation("d-1", {})])
	d.allow == true
	d.codes == ["delegation"]
	d.reasons == ["a delegate of the patient may read their records (delegation d-1)"]
	d.obligations == ["log-access"]
}

test_delegate_refused if {
	every ds in [
		[],
		[delegation("d-1", {"powers": ["grant", "revoke"]})],
		[delegation("d-1", {"status": "revoked"})],
		[delegation("d-1", {"expires_at": "2030-06-01T00:00:00Z"})],
		[delegation("d-1", {"patient_id": "pat-3"})],
		[delegation("d-1", {"delegate_id": "pat-9"})],
		[delegation("d-1", {"expires_at": "not a time"})],
	] {
		d := with_delegations({}, ds)
		d.allow == false
		d.codes == ["other-patient"]
	}
}

test_delegate_never_writes if {
	d := with_delegations({"action": "write"}, [delegation("d-1", {"powers": ["read"]})])
	d.allow == false
}

test_delegations_must_be_a_list if {
	d := decide(object.union(delegate_request, {"delegations": "d-1"}))
	denied_with(d, ["malformed-request"])
}

test_patient_own_records_with_unknown_action_denied if {
	d := decide(object.union(patient, {"action": "delete"}))
	denied_because(d, `unknown action "delete": must be read or write`)
}

# Rule 2: clinicians under a consent.

test_clinician_reads_with_user_consent if {
	allowed_by(with_consents({}, [consent("c1", {})]), "c1")
}

test_clinician_reads_with_org_consent if {
	c := consent("c-org", {"grantee": {"kind": "org", "id": "clinic-north"}})
	allowed_by(with_consents({}, [c]), "c-org")
}

# A write needs a consent to the clinician's organisation; a consent to the
# clinician as a user allows read only.

user_consent_allows_read_only := "write needs a consent to organisation clinic-north: consent c1 is given to user dr-ada and allows read only"

test_clinician_writes_with_org_consent if {
	c := consent("c-org", {"grantee": {"kind": "org", "id": "clinic-north"}})
	allowed_by(with_consents({"action": "write"}, [c]), "c-org")
}

test_clinician_write_with_user_consent_denied if {
	d := with_consents({"action": "write"}, [consent("c1", {})])
	d.reasons == [user_consent_allows_read_only]
	denied_because(d, user_consent_allows_read_only)
}

test_clinician_write_with_user_and_org_consents_uses_the_org_consent if {
	cs := [consent("c1", {}), consent("c2-org", {"grantee": {"kind": "org", "id": "clinic-north"}})]
	allowed_by(with_consents({"action": "write"}, cs), "c2-org")
}

test_clinician_write_with_user_consent_and_short_org_consent_denied if {
	# The user consent covers everything but the action: it is the closest.
	cs := [consent("c1", {}), consent("c0-org", {"grantee": {"kind": "org", "id": "clinic-north"}, "status": "revoked"})]
	d := with_consents({"action": "write"}, cs)
	d.reasons == [user_consent_allows_read_only]
	d.allow == false
}

test_clinician_write_with_short_user_consent_keeps_the_closest_reason if {
	c := consent("c1", {"expires_at": "2020-01-01T00:00:00Z"})
	d := with_consents({"action": "write"}, [c])
	d.reasons == ["consent c1 expired at 2020-01-01T00:00:00Z"]
	d.allow == false
}

test_clinician_write_without_consent_denied if {
	d := decide({"action": "write"})
	d.reasons == ["no consent is given to this subject"]
	d.allow == false
}

test_clinician_write_with_org_consent_of_another_org_denied if {
	c := consent("c-org", {"grantee": {"kind": "org", "id": "clinic-south"}})
	denied_because(with_consents({"action": "write"}, [c]), "no consent is given to this subject")
}

test_clinician_write_with_org_consent_for_another_category_denied if {
	c := consent("c-org", {"grantee": {"kind": "org", "id": "clinic-north"}, "categories": ["vitals"]})
	denied_because(with_consents({"action": "write"}, [c]), "category labs is not granted by consent c-org")
}

test_clinician_write_without_org_denied if {
	c := consent("c-org", {"grantee": {"kind": "org", "id": ""}})
	d := with_consents({"action": "write", "subject": {"org": ""}}, [consent("c1", {}), c])
	d.reasons == ["subject.org is missing (required for a clinician's write, which needs a consent to the clinician's organisation)"]
	d.allow == false
}

test_clinician_without_org_never_reads_with_a_user_consent if {
	denied_because(with_consents({"subject": {"org": ""}}, [consent("c1", {})]), "no consent is given to this subject")
}

test_clinician_of_another_org_denied if {
	c := consent("c-org", {"grantee": {"kind": "org", "id": "clinic-south"}})
	denied_because(with_consents({}, [c]), "no consent is given to this subject")
}

test_clinician_without_org_never_matches_an_org_consent if {
	c := consent("c-org", {"grantee": {"kind": "org", "id": ""}})
	denied_because(with_consents({"subject": {"org": ""}}, [c]), "no consent is given to this subject")
}

test_consent_to_another_user_denied if {
	c := consent("c1", {"grantee": {"kind": "user", "id": "clinic-north/dr-bob"}})
	denied_because(with_consents({}, [c]), "no consent is given to this subject")
}

test_user_consent_does_not_match_an_org_of_the_same_name if {
	c := consent("c1", {"grantee": {"kind": "org", "id": "dr-ada"}})
	denied_because(with_consents({"subject": {"org": "clinic-north"}}, [c]), "no consent is given to this subject")
}

test_unknown_grantee_kind_denied if {
	c := consent("c1", {"grantee": {"kind": "group", "id": "dr-ada"}})
	denied_because(with_consents({}, [c]), "no consent is given to this subject")
}

test_clinician_without_consent_denied if {
	denied_because(decide({}), "no consent is given to this subject")
}

test_consent_for_another_patient_ignored if {
	c := consent("c1", {"patient_id": "pat-2"})
	denied_because(with_consents({}, [c]), "no consent is given to this subject")
}

test_consent_naming_this_patient_allows if {
	allowed_by(with_consents({}, [consent("c1", {"patient_id": "pat-1"})]), "c1")
}

test_consent_that_names_no_patient_ignored if {
	c := json.remove(consent("c1", {}), ["patient_id"])
	denied_because(with_consents({}, [c]), "no consent is given to this subject")
}

test_the_same_user_name_at_another_organisation_denied if {
	denied_because(with_consents({"subject": {"org": "clinic-south"}}, [consent("c1", {})]), "no consent is given to this subject")
}

test_a_user_grantee_without_organisation_never_matches if {
	c := consent("c1", {"grantee": {"kind": "user", "id": "dr-ada"}})
	denied_because(with_consents({}, [c]), "no consent is given to this subject")
}

test_revoked_consent_denied if {
	c := consent("c1", {"status": "revoked"})
	denied_because(with_consents({}, [c]), "consent c1 is revoked")
}

test_consent_without_status_denied if {
	c := object.remove(consent("c1", {}), ["status"])
	denied_because(with_consents({}, [c]), "consent c1 is not active")
}

test_expired_consent_denied if {
	c := consent("c1", {"expires_at": "2030-06-01T11:59:59Z"})
	denied_because(with_consents({}, [c]), "consent c1 expired at 2030-06-01T11:59:59Z")
}

test_consent_expiring_at_the_request_time_denied if {
	c := consent("c1", {"expires_at": now})
	denied_because(with_consents({}, [c]), sprintf("consent c1 expired at %s", [now]))
}

test_consent_expiring_just_after_the_request_time_allows if {
	c := consent("c1", {"expires_at": "2030-06-01T12:00:00.000000001Z"})
	allowed_by(with_consents({}, [c]), "c1")
}

test_expiry_compared_as_time_not_text if {
	# 13:30+02:00 is 11:30Z, before the request.
	c := consent("c1", {"expires_at": "2030-06-01T13:30:00+02:00"})
	denied_because(with_consents({}, [c]), "consent c1 expired at 2030-06-01T13:30:00+02:00")
}

test_far_future_expiry_allows if {
	c := consent("c1", {"expires_at": "2400-02-29T00:00:00Z"})
	allowed_by(with_consents({}, [c]), "c1")
}

test_far_future_expiry_in_any_century_allows if {
	every expiry in ["2262-12-31T23:59:59Z", "2300-06-01T00:00:00Z", "2399-12-31T00:00:00-05:00", "9999-12-31T23:59:59.999Z"] {
		allowed_by(with_consents({}, [consent("c1", {"expires_at": expiry})]), "c1")
	}
}

test_far_future_invalid_date_denied if {
	c := consent("c1", {"expires_at": "2300-02-29T00:00:00Z"})
	denied_because(with_consents({}, [c]), "consent c1 has an invalid expires_at")
}

test_invalid_expiry_denied if {
	c := consent("c1", {"expires_at": "next year"})
	denied_because(with_consents({}, [c]), "consent c1 has an invalid expires_at")
}

test_not_yet_valid_consent_denied if {
	c := consent("c1", {"not_before": "2030-06-02T00:00:00Z"})
	denied_because(with_consents({}, [c]), "consent c1 is not yet valid: it starts at 2030-06-02T00:00:00Z")
}

test_consent_starting_at_the_request_time_allows if {
	allowed_by(with_consents({}, [consent("c1", {"not_before": now})]), "c1")
}

test_invalid_not_before_denied if {
	c := consent("c1", {"not_before": 12})
	denied_because(with_consents({}, [c]), "consent c1 has an invalid not_before")
}

test_consent_within_window_allows if {
	c := consent("c1", {"not_before": "2030-01-01T00:00:00Z", "expires_at": "2031-01-01T00:00:00Z"})
	allowed_by(with_consents({}, [c]), "c1")
}

test_wrong_category_denied if {
	c := consent("c1", {"categories": ["vitals", "allergies"]})
	denied_because(with_consents({}, [c]), "category labs is not granted by consent c1")
}

test_wrong_purpose_denied if {
	c := consent("c1", {"purposes": ["operations"]})
	denied_because(with_consents({}, [c]), "purpose treatment is not granted by consent c1")
}

test_clinician_purpose_other_than_treatment_denied if {
	d := with_consents({"purpose": "operations"}, [consent("c1", {"purposes": ["operations"]})])
	denied_because(d, "clinicians need purpose treatment (or emergency, for break-glass)")
}

test_record_named_by_consent_allows if {
	allowed_by(with_consents({}, [consent("c1", {"record_ids": ["rec-0", "rec-1"]})]), "c1")
}

test_record_not_named_by_consent_denied if {
	c := consent("c1", {"record_ids": ["rec-0"]})
	denied_because(with_consents({}, [c]), "record rec-1 is not granted by consent c1")
}

test_no_record_needs_a_consent_without_record_ids if {
	c := consent("c1", {"record_ids": ["rec-1"]})
	d := with_consents({"resource": {"record_id": ""}}, [c])
	denied_because(d, "record not granted: consent c1 covers named records only")
}

test_no_record_with_a_consent_without_record_ids_allows if {
	allowed_by(with_consents({"resource": {"record_id": ""}}, [consent("c1", {})]), "c1")
}

test_no_record_never_matches_an_empty_record_id if {
	c := consent("c1", {"record_ids": [""]})
	d := with_consents({"resource": {"record_id": ""}}, [c])
	denied_because(d, "record not granted: consent c1 covers named records only")
}

test_null_record_ids_mean_all_records if {
	allowed_by(with_consents({}, [consent("c1", {"record_ids": null})]), "c1")
}

test_malformed_record_ids_denied if {
	c := consent("c1", {"record_ids": "rec-1"})
	denied_because(with_consents({}, [c]), "record_ids of consent c1 are malformed")
}

test_lowest_matching_consent_wins if {
	cs := [
		consent("c9", {}),
		consent("c3", {"grantee": {"kind": "org", "id": "clinic-north"}}),
		consent("c1", {"status": "revoked"}),
		consent("c5", {}),
	]
	allowed_by(with_consents({}, cs), "c3")
}

test_closest_consent_explains_the_denial if {
	cs := [
		consent("a-cat", {"categories": ["vitals"]}),
		consent("b-expired", {"expires_at": "2020-01-01T00:00:00Z"}),
		consent("c-purpose", {"purposes": ["payment"]}),
	]
	d := with_consents({}, cs)
	d.reasons == ["consent b-expired expired at 2020-01-01T00:00:00Z"]
	d.allow == false
}

test_closest_consent_ties_go_to_the_lowest_id if {
	cs := [consent("c2", {"status": "revoked"}), consent("c1", {"expires_at": "2020-01-01T00:00:00Z"})]
	d := with_consents({}, cs)
	d.reasons == ["consent c1 expired at 2020-01-01T00:00:00Z"]
}

test_malformed_consents_skipped if {
	cs := ["c0", {"consent_id": 7}, {"consent_id": "", "grantee": {"kind": "user", "id": "dr-ada"}}, consent("c1", {})]
	allowed_by(with_consents({}, cs), "c1")
}

# Rule 3: pharmacists and insurers.

pharmacist := {
	"subject": {"id": "ph-1", "role": "pharmacist", "org": "pharmacy-7"},
	"resource": {"category": "prescriptions"},
	"purpose": "dispensing",
}

pharmacy_consent(id, patch) := consent(id, object.union(
	{"grantee": {"kind": "org", "id": "pharmacy-7"}, "categories": ["prescriptions", "labs"], "purposes": ["dispensing", "treatment"]},
	patch,
))

test_pharmacist_reads_prescriptions_with_consent if {
	allowed_by(with_consents(pharmacist, [pharmacy_consent("c1", {})]), "c1")
}

test_pharmacist_without_consent_denied if {
	denied_because(decide(pharmacist), "no consent is given to this subject")
}

test_pharmacist_other_category_denied_even_with_consent if {
	d := with_consents(object.union(pharmacist, {"resource": {"category": "labs"}}), [pharmacy_consent("c1", {})])
	d.reasons == ["pharmacists may only access prescriptions"]
	d.allow == false
}

test_pharmacist_write_denied if {
	d := with_consents(object.union(pharmacist, {"action": "write"}), [pharmacy_consent("c1", {})])
	denied_because(d, "pharmacists may only read")
}

test_pharmacist_purpose_other_than_dispensing_denied if {
	c := pharmacy_consent("c1", {"purposes": ["payment"]})
	d := with_consents(object.union(pharmacist, {"purpose": "payment"}), [c])
	denied_because(d, "pharmacists may only use purpose dispensing")
}

test_pharmacist_treatment_denied_even_with_a_consent_for_it if {
	d := with_consents(object.union(pharmacist, {"purpose": "treatment"}), [pharmacy_consent("c1", {})])
	denied_because(d, "pharmacists may only use purpose dispensing")
}

test_pharmacist_consent_for_treatment_does_not_allow_dispensing if {
	c := pharmacy_consent("c1", {"purposes": ["treatment"]})
	denied_because(with_consents(pharmacist, [c]), "purpose dispensing is not granted by consent c1")
}

test_pharmacist_expired_consent_denied if {
	c := pharmacy_consent("c1", {"expires_at": "2030-01-01T00:00:00Z"})
	denied_because(with_consents(pharmacist, [c]), "consent c1 expired at 2030-01-01T00:00:00Z")
}

insurer := {
	"subject": {"id": "ins-1", "role": "insurer", "org": "insurer-x"},
	"resource": {"category": "claims"},
	"purpose": "payment",
}

insurer_consent(id, patch) := consent(id, object.union(
	{"grantee": {"kind": "user", "id": "insurer-x/ins-1"}, "categories": ["claims", "conditions"], "purposes": ["payment", "treatment"]},
	patch,
))

test_insurer_reads_claims_for_payment if {
	allowed_by(with_consents(insurer, [insurer_consent("c1", {})]), "c1")
}

test_insurer_other_category_denied_even_with_consent if {
	d := with_consents(object.union(insurer, {"resource": {"category": "conditions"}}), [insurer_consent("c1", {})])
	d.reasons == ["insurers may only access claims"]
}

test_insurer_for_treatment_denied if {
	d := with_consents(object.union(insurer, {"purpose": "treatment"}), [insurer_consent("c1", {})])
	denied_because(d, "insurers may only use purpose payment")
}

test_insurer_write_denied if {
	d := with_consents(object.union(insurer, {"action": "write"}), [insurer_consent("c1", {})])
	denied_because(d, "insurers may only read")
}

test_insurer_revoked_consent_denied if {
	d := with_consents(insurer, [insurer_consent("c1", {"status": "revoked"})])
	denied_because(d, "consent c1 is revoked")
}

# Rule 4: researchers.

researcher := {"subject": {"id": "res-1", "role": "researcher", "org": "uni"}, "purpose": "research"}

test_researcher_denied_even_with_research_consent if {
	c := consent("c1", {"grantee": {"kind": "user", "id": "uni/res-1"}, "purposes": ["research"]})
	d := with_consents(researcher, [c])
	d.reasons == ["researchers have no direct record access: anonymized datasets are the only research access"]
	d.allow == false
}

# Rule 5: break-glass.

emergency := {"purpose": "emergency", "break_glass_reason": "  patient unconscious in A&E  "}

test_break_glass_allowed_with_obligations if {
	d := decide(object.union(emergency, {"resource": {"category": "notes"}}))
	d == {
		"allow": true,
		"reasons": ["break-glass: emergency read by clinician dr-ada without consent"],
		"codes": ["break-glass"],
		"obligations": ["log-access", "log-break-glass", "notify-patient"],
		"consent_id": "",
	}
}

test_break_glass_reason_of_exactly_ten_characters_allowed if {
	d := decide(object.union(emergency, {"break_glass_reason": " 0123456789 "}))
	d.allow == true
}

test_break_glass_reason_of_nine_characters_denied if {
	d := decide(object.union(emergency, {"break_glass_reason": "   012345678    "}))
	denied_because(d, "break-glass needs a break_glass_reason of at least 10 characters")
}

test_break_glass_without_reason_denied if {
	d := decide(object.union(emergency, {"break_glass_reason": ""}))
	denied_because(d, "break-glass needs a break_glass_reason of at least 10 characters")
}

test_break_glass_blank_reason_denied if {
	d := decide(object.union(emergency, {"break_glass_reason": " \t\n           \n "}))
	denied_because(d, "break-glass needs a break_glass_reason of at least 10 characters")
}

test_break_glass_write_denied if {
	d := decide(object.union(emergency, {"action": "write"}))
	denied_because(d, "break-glass allows read only, never write")
}

test_break_glass_by_pharmacist_denied if {
	d := decide(object.union(object.union(pharmacist, emergency), {"resource": {"category": "labs"}}))
	denied_because(d, "break-glass (purpose emergency) is only for clinicians")
}

test_break_glass_by_researcher_denied if {
	d := decide(object.union(researcher, emergency))
	denied_because(d, "break-glass (purpose emergency) is only for clinicians")
}

test_break_glass_reason_without_emergency_purpose_grants_nothing if {
	d := decide({"break_glass_reason": "patient unconscious in A&E"})
	denied_because(d, "no consent is given to this subject")
}

test_emergency_consent_does_not_bypass_break_glass_rules if {
	c := consent("c1", {"purposes": ["emergency"]})
	d := with_consents(object.union(emergency, {"break_glass_reason": ""}), [c])
	d.allow == false
}

# Rule 6: malformed requests.

test_unknown_role_denied if {
	d := with_consents({"subject": {"role": "nurse"}}, [consent("c1", {})])
	denied_because(d, `unknown role "nurse"`)
}

test_missing_role_denied if {
	d := with_consents({"subject": {"role": ""}}, [consent("c1", {})])
	denied_because(d, "subject.role is missing")
}

test_unknown_action_denied if {
	d := with_consents({"action": "delete"}, [consent("c1", {})])
	denied_because(d, `unknown action "delete": must be read or write`)
}

test_unknown_category_denied if {
	d := with_consents({"resource": {"category": "dna"}}, [consent("c1", {"categories": ["dna"]})])
	denied_because(d, `unknown category "dna"`)
}

test_unknown_purpose_denied if {
	d := with_consents({"purpose": "marketing"}, [consent("c1", {"purposes": ["marketing"]})])
	denied_because(d, `unknown purpose "marketing"`)
}

test_missing_subject_id_denied if {
	c := consent("c1", {"grantee": {"kind": "user", "id": ""}})
	d := with_consents({"subject": {"id": ""}}, [c])
	denied_because(d, "subject.id is missing")
}

test_missing_patient_denied if {
	d := with_consents({"resource": {"patient_id": ""}}, [consent("c1", {})])
	denied_because(d, "resource.patient_id is missing")
}

test_invalid_id_denied if {
	d := with_consents({"resource": {"record_id": "rec 1/../2"}}, [consent("c1", {"record_ids": ["rec 1/../2"]})])
	denied_because(d, `resource.record_id "rec 1/../2" is not a valid id`)
}

test_missing_time_denied if {
	d := with_consents({"time": ""}, [consent("c1", {})])
	denied_because(d, "time is missing (required for role clinician)")
}

test_missing_purpose_denied if {
	d := with_consents({"purpose": ""}, [consent("c1", {"purposes": ["treatment"]})])
	denied_because(d, "purpose is missing (required for role clinician)")
}

test_invalid_time_denied if {
	d := with_consents({"time": "2030-06-01 12:00"}, [consent("c1", {})])
	denied_because(d, `time "2030-06-01 12:00" is not an RFC 3339 time`)
}

test_non_string_field_denied if {
	d := with_consents({"subject": {"id": ["dr-ada"]}}, [consent("c1", {})])
	denied_because(d, "subject.id must be a string")
}

test_non_object_subject_denied if {
	d := decide({"subject": "dr-ada"})
	denied_because(d, "subject must be an object")
}

test_consents_not_a_list_denied if {
	d := decide({"consents": {"c1": consent("c1", {})}})
	denied_because(d, "consents must be a list")
}

test_problems_are_the_only_reasons if {
	d := decide({"action": "delete", "subject": {"role": "researcher"}})
	d.reasons == [`unknown action "delete": must be read or write`]
}

# Codes: every deny says why in the access log's vocabulary.

test_codes_of_consent_denials if {
	denied_with(with_consents({}, [consent("c1", {"categories": ["imaging"]})]), ["category-not-granted"])
	denied_with(with_consents({}, [consent("c1", {"purposes": ["payment"]})]), ["purpose-not-granted"])
	denied_with(with_consents({}, [consent("c1", {"record_ids": ["rec-9"]})]), ["record-not-granted"])
	denied_with(with_consents({}, [consent("c1", {"status": "revoked"})]), ["consent-revoked"])
	denied_with(with_consents({}, [consent("c1", {"expires_at": "2020-01-01T00:00:00Z"})]), ["consent-expired"])
	denied_with(with_consents({}, [consent("c1", {"not_before": "2040-01-01T00:00:00Z"})]), ["consent-not-yet-valid"])
	denied_with(with_consents({"action": "write"}, [consent("c1", {})]), ["consent-read-only"])
	denied_with(decide({}), ["no-consent"])
}

test_codes_of_role_denials if {
	denied_with(decide({"subject": {"role": "researcher"}}), ["researcher-no-direct-access"])
	denied_with(decide({"subject": {"role": "pharmacist"}, "purpose": "dispensing"}), ["role-category"])
	denied_with(decide({"subject": {"role": "pharmacist"}, "resource": {"category": "prescriptions"}, "purpose": "treatment"}), ["role-purpose"])
	denied_with(decide(object.union(emergency, {"action": "write"})), ["break-glass-read-only"])
	denied_with(decide({"purpose": "emergency"}), ["break-glass-reason-missing"])
	denied_with(decide({"action": "delete"}), ["malformed-request"])
}

# SMART scopes x consents. A scoped request (input.smart) is allowed only
# within both; a deny names the one that denied (scope-not-granted, a
# consent's code) or both.

smart(scopes, patch) := object.union(
	{"smart": {"scopes": scopes, "launch_patient": "", "resource_type": "Observation", "interaction": "r"}},
	patch,
)

scope(ctx, typ, perms, cat) := {"context": ctx, "type": typ, "permissions": perms, "category": cat}

labs_consent := [consent("c-1", {})]

scope_cases := [
	# [name, scopes, smart patch, request patch, consents, allowed, codes on deny]
	["user scope and consent allow", [scope("user", "Observation", "rs", "")], {}, {}, labs_consent, true, []],
	["user/*.cruds and consent allow", [scope("user", "*", "cruds", "")], {}, {}, labs_consent, true, []],
	["the category restriction matches", [scope("user", "Observation", "rs", "laboratory")], {}, {}, labs_consent, true, []],
	["the exchange's category name restricts too", [scope("user", "Observation", "rs", "labs")], {}, {}, labs_consent, true, []],
	["v1-style read mapped to rs, search", [scope("user", "Observation", "rs", "")], {"smart": {"interaction": "s"}}, {}, labs_consent, true, []],
	["scope allows, no consent", [scope("user", "Observation", "rs", "")], {}, {}, [], false, ["no-consent"]],
	["consent allows, scope of another type", [scope("user", "Condition", "rs", "")], {}, {}, labs_consent, false, ["scope-not-granted"]],
	["consent allows, the URL's type differs from the scope's", [scope("user", "Observation", "rs", "")], {"smart": {"resource_type": "DiagnosticReport"}}, {}, labs_consent, false, ["scope-not-granted"]],
	["consent allows, the type does not hold the category", [scope("user", "Observation", "rs", "")], {}, {"resource": {"category": "conditions"}}, [consent("c-1", {"categories": ["conditions"]})], false, ["scope-not-granted"]],
	["consent allows, the category restriction differs", [scope("user", "Observation", "rs", "vital-signs")], {}, {}, labs_consent, false, ["scope-not-granted"]],
	["consent allows, read only scope for a search", [scope("user", "Observation", "r", "")], {"smart": {"interaction": "s"}}, {}, labs_consent, false, ["scope-not-granted"]],
	["consent allows, no resource scope at all", [], {}, {}, labs_consent, false, ["scope-not-granted"]],
	["both deny: both say so", [scope("user", "Condition", "rs", "")], {}, {}, [], false, ["no-consent", "scope-not-granted"]],
	["patient scope without a launch patient", [scope("patient", "Observation", "rs", "")], {}, {}, labs_consent, false, ["scope-not-granted"]],
	["patient scope of another launch patient", [scope("patient", "Observation", "rs", "")], {"smart": {"launch_patient": "pat-2"}}, {}, labs_consent, false, ["scope-not-granted"]],
	["patient scope of the launch patient", [scope("patient", "Observation", "rs", "")], {"smart": {"launch_patient": "pat-1"}}, {}, labs_consent, true, []],
	["an unknown type without a FHIR type asked", [scope("user", "Banana", "rs", "")], {"smart": {"resource_type": ""}}, {}, labs_consent, false, ["scope-not-granted"]],
	["a type's scope reaches its categories when the type is not known", [scope("user", "Observation", "rs", "")], {"smart": {"resource_type": "", "interaction": ""}}, {}, labs_consent, true, []],
	["a write needs c by default", [scope("user", "Observation", "rs", "")], {"smart": {"interaction": ""}}, {"action": "write", "resource": {"record_id": ""}}, [consent("c-1", {"grantee": {"kind": "org", "id": "clinic-north"}})], false, ["scope-not-granted"]],
	["a create with c", [scope("user", "Observation", "c", "")], {"smart": {"interaction": "c"}}, {"action": "write", "resource": {"record_id": ""}}, [consent("c-1", {"grantee": {"kind": "org", "id": "clinic-north"}})], true, []],
	["an update needs u, c is not enough", [scope("user", "Observation", "c", "")], {"smart": {"interaction": "u"}}, {"action": "write"}, [consent("c-1", {"grantee": {"kind": "org", "id": "clinic-north"}})], false, ["scope-not-granted"]],
	["break-glass still needs the scope", [scope("user", "Condition", "r", "")], {}, {"purpose": "emergency", "break_glass_reason": "unconscious on arrival"}, [], false, ["scope-not-granted"]],
	["break-glass within the scope", [scope("user", "Observation", "r", "")], {}, {"purpose": "emergency", "break_glass_reason": "unconscious on arrival"}, [], true, []],
]

test_scopes_and_consents if {
	every c in scope_cases {
		[name, scopes, smart_patch, patch, consents, allowed, codes] := c
		d := with_consents(object.union(smart(scopes, smart_patch), patch), consents)
		scope_case_ok(name, d, allowed, codes)
	}
}

scope_case_ok(_, d, true, _) if d.allow == true

scope_case_ok(_, d, false, codes) if denied_with(d, codes)

# A patient's app: patient/ scopes reach their own records only (the
# launch patient is the patient), and the scope still limits them.
test_patient_app_scopes if {
	own := {"subject": {"id": "pat-1", "role": "patient", "org": ""}}
	d1 := decide(object.union(own, smart([scope("patient", "Observation", "rs", "")], {"smart": {"launch_patient": "pat-1"}})))
	d1.allow == true
	d2 := decide(object.union(own, smart([scope("patient", "Condition", "rs", "")], {"smart": {"launch_patient": "pat-1"}})))
	denied_with(d2, ["scope-not-granted"])
	d3 := decide(object.union(own, smart([scope("patient", "Observation", "rs", "")], {"smart": {"launch_patient": "pat-1"}, "resource": {"patient_id": "pat-2"}})))
	denied_with(d3, ["other-patient", "scope-not-granted"])
}

# Without a scope claim the request is decided as before: the same consent
# allows, and no scope code ever appears.
test_unscoped_requests_ignore_scopes if {
	allowed_by(with_consents({}, labs_consent), "c-1")
	denied_with(with_consents({}, []), ["no-consent"])
}

# The fast allow leaves every scoped request to the decision.
test_fast_allow_skips_scoped_requests if {
	req := object.union(object.union(base, smart([], {})), {
		"subject": {"id": "pat-1", "role": "patient", "org": ""},
		"resource": {"patient_id": "pat-1"},
	})
	not access.fast_allow with input as req
}
