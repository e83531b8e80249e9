package health.research_test

import data.health.research

# Fixtures. A request is researcher res-1 of ResearchMSP creating a dataset
# of their study st-1, patched with object.union (objects merge, everything
# else is replaced).

base := {
	"subject": {"id": "res-1", "role": "researcher", "org": "ResearchMSP", "study": "st-1"},
	"action": "create",
	"dataset": {"study_id": "st-1", "researcher": "res-1", "categories": ["labs", "conditions"], "k": 5},
}

decide(patch) := d if {
	d := research.decision with input as object.union(base, patch)
}

read(patch) := decide(object.union({"action": "read"}, patch))

denied_because(d, reason) if {
	d.allow == false
	reason in d.reasons
}

# The decision is always defined and of the right shape.

test_decision_defined_without_input if {
	d := research.decision
	d.allow == false
	count(d.reasons) > 0
}

test_input_not_an_object if {
	d := research.decision with input as ["res-1", "create"]
	denied_because(d, "the input must be an object")
}

test_decision_shape if {
	object.keys(decide({})) == {"allow", "reasons"}
	object.keys(decide({"action": "delete"})) == {"allow", "reasons"}
}

# Allow.

test_create_allowed if {
	decide({}) == {"allow": true, "reasons": ["researcher res-1 may create a dataset of study st-1"]}
}

test_create_allowed_at_min_k if {
	decide({"dataset": {"k": research.min_k}}).allow
}

test_create_allowed_with_every_category if {
	decide({"dataset": {"categories": [c | some c in research.categories]}}).allow
}

test_read_allowed if {
	read({}) == {"allow": true, "reasons": ["researcher res-1 may read their datasets of study st-1"]}
}

test_read_ignores_categories_and_k if {
	read({"dataset": {"categories": ["labs", "labs", "genome"], "k": 1}}).allow
	read({"dataset": {"categories": "labs", "k": "five"}}).allow
	d := research.decision with input as {
		"subject": base.subject,
		"action": "read",
		"dataset": {"study_id": "st-1", "researcher": "res-1"},
	}
	d.allow
}

# Rule 1: the researcher's own dataset of their own study.

test_wrong_role_denied if {
	every action in ["create", "read"] {
		d := decide({"action": action, "subject": {"role": "patient"}})
		d == {"allow": false, "reasons": [`datasets are for researchers only, not for role "patient"`]}
	}
}

test_clinician_denied if {
	d := decide({"subject": {"id": "dr-ada", "role": "clinician", "org": "ProvidersMSP"}, "dataset": {"researcher": "dr-ada"}})
	d == {"allow": false, "reasons": [
		`a researcher must belong to organisation ResearchMSP, not "ProvidersMSP"`,
		`datasets are for researchers only, not for role "clinician"`,
	]}
}

test_missing_role_denied if {
	denied_because(decide({"subject": {"role": ""}}), "subject.role is missing")
}

test_no_study_denied if {
	every study in ["", null] {
		d := decide({"subject": {"study": study}})
		d == {"allow": false, "reasons": ["a researcher needs a study id"]}
	}
}

test_no_study_denied_on_read if {
	denied_because(read({"subject": {"study": ""}}), "a researcher needs a study id")
}

test_no_study_and_no_dataset_study_denied if {
	d := read({"subject": {"study": ""}, "dataset": {"study_id": ""}})
	d == {"allow": false, "reasons": ["a researcher needs a study id", "dataset.study_id is missing"]}
}

test_other_study_denied if {
	every action in ["create", "read"] {
		d := decide({"action": action, "dataset": {"study_id": "st-2"}})
		d == {"allow": false, "reasons": [`the dataset belongs to study "st-2", not to the researcher's study "st-1"`]}
	}
}

test_other_researcher_denied if {
	every action in ["create", "read"] {
		d := decide({"action": action, "dataset": {"researcher": "res-2"}})
		d == {"allow": false, "reasons": [`the dataset belongs to researcher "res-2", not to "res-1"`]}
	}
}

test_wrong_org_denied if {
	every action in ["create", "read"] {
		d := decide({"action": action, "subject": {"org": "ProvidersMSP"}})
		d == {"allow": false, "reasons": [`a researcher must belong to organisation ResearchMSP, not "ProvidersMSP"`]}
	}
}

test_missing_org_denied if {
	d := read({"subject": {"org": ""}})
	d == {"allow": false, "reasons": ["a researcher must belong to organisation ResearchMSP: subject.org is missing"]}
}

test_missing_subject_id_denied if {
	d := decide({"subject": {"id": ""}, "dataset": {"researcher": ""}})
	denied_because(d, "subject.id is missing")
	denied_because(d, "dataset.researcher is missing")
}

test_invalid_ids_denied if {
	every reason, patch in {
		`subject.id "res 1" is not a valid id`: {"subject": {"id": "res 1"}, "dataset": {"researcher": "res 1"}},
		`subject.study "../st-1" is not a valid id`: {"subject": {"study": "../st-1"}, "dataset": {"study_id": "../st-1"}},
		`subject.org "-ResearchMSP" is not a valid id`: {"subject": {"org": "-ResearchMSP"}},
		`dataset.study_id "st 2" is not a valid id`: {"dataset": {"study_id": "st 2"}},
	} {
		denied_because(decide(patch), reason)
	}
}

test_field_of_wrong_type_denied if {
	d := decide({"subject": {"study": 7}})
	d == {"allow": false, "reasons": ["subject.study must be a string"]}
}

test_subject_not_an_object_denied if {
	denied_because(decide({"subject": "res-1"}), "subject must be an object")
}

test_unknown_action_denied if {
	every action in ["delete", "CREATE", "write"] {
		d := decide({"action": action})
		d == {"allow": false, "reasons": [sprintf("unknown action %q: must be create or read", [action])]}
	}
}

test_missing_action_denied if {
	denied_because(decide({"action": ""}), "action is missing")
}

# Rule 2: a create's categories and k.

test_k_1_denied if {
	d := decide({"dataset": {"k": 1}})
	d == {"allow": false, "reasons": ["k must be at least 2, not 1"]}
}

test_k_fraction_denied if {
	d := decide({"dataset": {"k": 1.5}})
	d == {"allow": false, "reasons": ["k must be an integer, not 1.5", "k must be at least 2, not 1.5"]}
	denied_because(decide({"dataset": {"k": 5.5}}), "k must be an integer, not 5.5")
}

test_k_missing_or_not_a_number_denied if {
	denied_because(decide({"dataset": {"k": null}}), "dataset.k is missing")
	denied_because(decide({"dataset": {"k": "5"}}), "dataset.k must be a number")
}

test_unknown_category_denied if {
	d := decide({"dataset": {"categories": ["labs", "genome"]}})
	d == {"allow": false, "reasons": [`unknown category "genome"`]}
}

test_duplicate_category_denied if {
	d := decide({"dataset": {"categories": ["labs", "notes", "labs"]}})
	d == {"allow": false, "reasons": [`category "labs" is listed more than once`]}
}

test_empty_categories_denied if {
	every categories in [[], null] {
		d := decide({"dataset": {"categories": categories}})
		d == {"allow": false, "reasons": ["a dataset needs at least one category"]}
	}
}

test_categories_of_wrong_type_denied if {
	denied_because(decide({"dataset": {"categories": "labs"}}), "dataset.categories must be a list")
	denied_because(decide({"dataset": {"categories": ["labs", 3]}}), "dataset.categories[1] must be a string")
}

# Every applicable reason, sorted.

test_every_reason_sorted if {
	d := decide({
		"subject": {"role": "clinician", "study": ""},
		"dataset": {"researcher": "res-2", "categories": ["labs", "labs", "genome"], "k": 1},
	})
	d == {"allow": false, "reasons": [
		"a researcher needs a study id",
		`category "labs" is listed more than once`,
		`datasets are for researchers only, not for role "clinician"`,
		"k must be at least 2, not 1",
		`the dataset belongs to researcher "res-2", not to "res-1"`,
		`unknown category "genome"`,
	]}
}
