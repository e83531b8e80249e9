# METADATA
# title: Researchers' access to anonymized datasets
# description: >-
#   Decides whether a researcher may create an anonymized dataset, or read
#   one (its status, the list of them, a download). Deny by default.
#   data.health.research.decision is always defined and says why. A dataset
#   belongs to one study and one researcher: only that researcher, a member
#   of the research organisation whose token names that study, may create or
#   read it. A create must also name the record categories it draws on (from
#   the chaincode's vocabulary, each once) and a k of at least min_k. Reasons
#   name ids, never health data.
package health.research

# METADATA
# title: Decision
# description: >-
#   The answer: allow and the reasons (one on allow; on deny, every problem
#   of a malformed request and every rule the request fails, sorted).
# scope: document
default decision := {
	"allow": false,
	"reasons": ["denied by default: no rule allows this request"],
}

decision := {"allow": true, "reasons": [grant]} if {
	count(problems) == 0
	count(denials) == 0
	grant
} else := {"allow": false, "reasons": deny_reasons}

# METADATA
# title: Grant
# description: >-
#   Why a well-formed request is allowed: the researcher's own dataset of
#   their own study, and for a create, proper categories and k.
grant := sprintf("researcher %s may create a dataset of study %s", [subject_id, study]) if {
	action == "create"
	owns_dataset
	proper_categories
	proper_k
} else := sprintf("researcher %s may read their datasets of study %s", [subject_id, study]) if {
	action == "read"
	owns_dataset
}

# METADATA
# title: Deny reasons
# description: >-
#   What a denied request is told: every problem and every failed rule,
#   sorted, else the default.
deny_reasons := sort(problems | denials) if {
	count(problems | denials) > 0
} else := ["denied by default: no rule allows this request"]

# Vocabularies (chaincode SPEC.md).

# METADATA
# description: The organisation (MSP id) researchers belong to.
research_org := "ResearchMSP"

# METADATA
# description: >-
#   The floor of k: a dataset is k-anonymous, every released row shares its
#   quasi-identifiers with at least k-1 others, and k = 1 would be no
#   anonymity at all. The chaincode also refuses a release with k < 2.
min_k := 2

# METADATA
# description: Record categories a dataset can draw on.
categories := {
	"demographics", "conditions", "medications", "prescriptions",
	"allergies", "immunizations", "labs", "imaging", "notes", "vitals",
	"claims",
}

# METADATA
# description: What a researcher can do with a dataset (read is status, list and download).
actions := {"create", "read"}

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
	"subject.study": ["subject", "study"],
	"action": ["action"],
	"dataset.study_id": ["dataset", "study_id"],
	"dataset.researcher": ["dataset", "researcher"],
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

study := field("subject.study")

action := field("action")

dataset_study := field("dataset.study_id")

dataset_researcher := field("dataset.researcher")

# METADATA
# description: >-
#   The dataset's categories: a list, [] when absent or null (any other type
#   leaves this undefined, a problem on create).
dataset_categories := request.dataset.categories if {
	is_array(request.dataset.categories)
} else := [] if {
	object.get(request, ["dataset", "categories"], null) == null
}

# METADATA
# description: The dataset's k, null when absent.
dataset_k := object.get(request, ["dataset", "k"], null)

# METADATA
# title: Problems
# description: Why a request is malformed, one per defect. Any problem denies.
# scope: document
problems contains "the input must be an object" if {
	not is_object(input)
}

problems contains sprintf("%s must be an object", [name]) if {
	some name in ["subject", "dataset"]
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
	some name in {"subject.id", "subject.role", "action", "dataset.study_id", "dataset.researcher"}
	field(name) == ""
}

problems contains sprintf("%s %q is not a valid id", [name, value]) if {
	some name in {"subject.id", "subject.org", "subject.study", "dataset.study_id", "dataset.researcher"}
	value := field(name)
	value != ""
	not regex.match(id_pattern, value)
}

problems contains sprintf("unknown action %q: must be create or read", [action]) if {
	action != ""
	not action in actions
}

problems contains "dataset.categories must be a list" if {
	action == "create"
	not dataset_categories
}

problems contains sprintf("dataset.categories[%d] must be a string", [i]) if {
	action == "create"
	some i, c in dataset_categories
	not is_string(c)
}

problems contains "dataset.k is missing" if {
	action == "create"
	dataset_k == null
}

problems contains "dataset.k must be a number" if {
	action == "create"
	dataset_k != null
	not is_number(dataset_k)
}

# Rule 1: the researcher's own dataset of their own study (create and read).

# METADATA
# title: Own dataset
# description: >-
#   The subject is a researcher of the research organisation, their token
#   names a study, and the dataset is of that study and that researcher.
owns_dataset if {
	role == "researcher"
	subject_org == research_org
	study != ""
	dataset_study == study
	dataset_researcher == subject_id
}

# METADATA
# title: Denials
# description: Why a request is denied, one per rule it fails.
# scope: document
denials contains sprintf("datasets are for researchers only, not for role %q", [role]) if {
	role != ""
	role != "researcher"
}

denials contains sprintf("a researcher must belong to organisation %s: subject.org is missing", [research_org]) if {
	subject_org == ""
}

denials contains sprintf("a researcher must belong to organisation %s, not %q", [research_org, subject_org]) if {
	subject_org != ""
	subject_org != research_org
}

denials contains "a researcher needs a study id" if {
	study == ""
}

denials contains sprintf("the dataset belongs to study %q, not to the researcher's study %q", [dataset_study, study]) if {
	study != ""
	dataset_study != ""
	dataset_study != study
}

denials contains sprintf("the dataset belongs to researcher %q, not to %q", [dataset_researcher, subject_id]) if {
	subject_id != ""
	dataset_researcher != ""
	dataset_researcher != subject_id
}

# Rule 2: a create names its categories and a k of at least min_k.

# METADATA
# title: Proper categories
# description: At least one category, each from the vocabulary, none twice.
proper_categories if {
	count(dataset_categories) > 0
	every c in dataset_categories {
		c in categories
	}
	count({c | some c in dataset_categories}) == count(dataset_categories)
}

# METADATA
# title: Proper k
# description: An integer of at least min_k.
proper_k if {
	is_number(dataset_k)
	floor(dataset_k) == dataset_k
	dataset_k >= min_k
}

denials contains "a dataset needs at least one category" if {
	action == "create"
	count(dataset_categories) == 0
}

denials contains sprintf("unknown category %q", [c]) if {
	action == "create"
	some c in dataset_categories
	is_string(c)
	not c in categories
}

denials contains sprintf("category %q is listed more than once", [c]) if {
	action == "create"
	some c in dataset_categories
	is_string(c)
	count([d | some d in dataset_categories; d == c]) > 1
}

denials contains sprintf("k must be an integer, not %v", [dataset_k]) if {
	action == "create"
	is_number(dataset_k)
	floor(dataset_k) != dataset_k
}

denials contains sprintf("k must be at least %d, not %v", [min_k, dataset_k]) if {
	action == "create"
	is_number(dataset_k)
	dataset_k < min_k
}
