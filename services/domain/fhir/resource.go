package fhir

// Resource is what Validate learned about a resource.
type Resource struct {
	// Type is the resourceType, e.g. "Observation".
	Type string
	// ID is the resource's logical id, or "" if it has none yet.
	ID string
	// Category is the exchange's record category for the resource, one of
	// demographics, conditions, medications, prescriptions, allergies,
	// immunizations, labs, imaging, notes, vitals, claims: what consents are
	// granted over.
	Category string
}

// resourceKind is how the exchange treats one resource type.
type resourceKind struct {
	// patientField is the top-level element that references the patient:
	// "subject" or "patient"; "" for Patient itself, which is identified by
	// its id.
	patientField string
	// category is the record category (for Observation, the one used when it
	// is not a vital sign).
	category string
}

// kinds is the closed list of R4 resource types the exchange accepts. The
// patient fields are the R4 ones (MedicationStatement.subject,
// Immunization.patient, ...).
var kinds = map[string]resourceKind{
	"Patient":              {"", "demographics"},
	"Observation":          {"subject", "labs"}, // "vitals" for vital signs: see observationCategory
	"Condition":            {"subject", "conditions"},
	"MedicationRequest":    {"subject", "prescriptions"},
	"MedicationStatement":  {"subject", "medications"},
	"AllergyIntolerance":   {"patient", "allergies"},
	"Immunization":         {"patient", "immunizations"},
	"DiagnosticReport":     {"subject", "labs"},
	"ImagingStudy":         {"subject", "imaging"},
	"Procedure":            {"subject", "notes"},
	"Encounter":            {"subject", "notes"},
	"DocumentReference":    {"subject", "notes"},
	"Claim":                {"patient", "claims"},
	"ExplanationOfBenefit": {"patient", "claims"},
	"CarePlan":             {"subject", "notes"},
}

// observationCategorySystem is the code system of Observation.category.
const observationCategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"

// Validate checks that raw is one FHIR R4 resource that may be filed for the
// patient whose id is patientID, and returns its type, id and category.
//
// raw must be exactly one JSON object, at most MaxResourceBytes long, with no
// duplicate member names at any depth and no number beyond a double's
// range (else ErrInvalid or ErrTooLarge); numbers are kept as written, so a
// decimal's precision is what was filed. Its resourceType must be one of
// the clinical types the exchange accepts (else ErrUnknownType) and its id,
// if present, FHIR id syntax [A-Za-z0-9\-\.]{1,64} (else ErrInvalid). It
// must belong to the patient (else ErrWrongPatient): a Patient's id is
// patientID; any other resource's patient reference (patient.reference for
// AllergyIntolerance, Immunization, Claim and ExplanationOfBenefit,
// subject.reference for the rest) is present and is exactly
// "Patient/<patientID>", and so is a subject or patient reference it has
// besides. Absolute, versioned or logical references are not accepted.
// Last, it must be a valid R4 resource of its type (else ErrInvalid, naming
// the element path and the rule).
func Validate(raw []byte, patientID string) (Resource, error) {
	return validate(raw, patientID, true)
}

// Inspect makes every check of Validate but the R4 structure's (which
// costs about a millisecond for a few kilobytes): for bytes that passed
// Validate when they were filed and whose notarized hash they still match.
func Inspect(raw []byte, patientID string) (Resource, error) {
	return validate(raw, patientID, false)
}

func validate(raw []byte, patientID string, r4 bool) (Resource, error) {
	if !validID(patientID) {
		return Resource{}, failf(ErrWrongPatient, "patientID", "the patient id to check against is not a FHIR id")
	}
	root, err := parse(raw)
	if err != nil {
		return Resource{}, err
	}
	obj, ok := root.(object)
	if !ok {
		return Resource{}, failf(ErrInvalid, "$", "a resource must be a JSON object")
	}

	v, ok := obj.get("resourceType")
	if !ok {
		return Resource{}, failf(ErrInvalid, "$.resourceType", "missing")
	}
	typ, ok := v.(string)
	if !ok {
		return Resource{}, failf(ErrInvalid, "$.resourceType", "must be a string")
	}
	kind, ok := kinds[typ]
	if !ok {
		return Resource{}, failf(ErrUnknownType, "$.resourceType", "not one of the R4 clinical resource types the exchange accepts")
	}

	var id string
	if v, ok := obj.get("id"); ok {
		if id, ok = v.(string); !ok || !validID(id) {
			return Resource{}, failf(ErrInvalid, "$.id", `must be a FHIR id: 1 to 64 of A-Z a-z 0-9 "-" "."`)
		}
	}

	if err := checkPatient(obj, kind, id, patientID); err != nil {
		return Resource{}, err
	}

	category := kind.category
	if typ == "Observation" {
		if category, err = observationCategory(obj); err != nil {
			return Resource{}, err
		}
	}
	if r4 {
		if err := checkR4(raw); err != nil {
			return Resource{}, err
		}
	}
	return Resource{Type: typ, ID: id, Category: category}, nil
}

// checkPatient checks that the resource belongs to patientID (see Validate).
func checkPatient(obj object, kind resourceKind, id, patientID string) error {
	if kind.patientField == "" {
		if id == "" {
			return failf(ErrWrongPatient, "$.id", "missing: a Patient resource must have the id of the patient it is filed for")
		}
		if id != patientID {
			return failf(ErrWrongPatient, "$.id", "is not the id of the patient this resource is filed for")
		}
	}
	want := "Patient/" + patientID
	for _, field := range []string{"subject", "patient"} {
		v, present := obj.get(field)
		if !present {
			if field == kind.patientField {
				return failf(ErrWrongPatient, jsonPath(key(field), key("reference")),
					"missing: the resource must name its patient as the reference Patient/<id>")
			}
			continue
		}
		ref, ok := v.(object)
		if !ok {
			return failf(ErrInvalid, jsonPath(key(field)), "must be an object (a FHIR Reference)")
		}
		at := jsonPath(key(field), key("reference"))
		r, present := ref.get("reference")
		if !present {
			return failf(ErrWrongPatient, at, "missing: the resource must name its patient as the reference Patient/<id>, not by identifier or display")
		}
		s, ok := r.(string)
		if !ok {
			return failf(ErrInvalid, at, "must be a string")
		}
		if s != want {
			return failf(ErrWrongPatient, at, "does not name the patient this resource is filed for (it must be exactly Patient/<id>)")
		}
	}
	return nil
}

// observationCategory is "vitals" for an Observation with a category coding
// whose code is vital-signs (in the observation-category system, when a
// system is given), else "labs".
func observationCategory(obj object) (string, error) {
	category := "labs"
	v, ok := obj.get("category")
	if !ok {
		return category, nil
	}
	concepts, ok := v.([]any)
	if !ok {
		return "", failf(ErrInvalid, "$.category", "must be an array of CodeableConcepts")
	}
	for i, c := range concepts {
		concept, ok := c.(object)
		if !ok {
			return "", failf(ErrInvalid, jsonPath(key("category"), index(i)), "must be an object (a CodeableConcept)")
		}
		v, ok := concept.get("coding")
		if !ok {
			continue
		}
		codings, ok := v.([]any)
		if !ok {
			return "", failf(ErrInvalid, jsonPath(key("category"), index(i), key("coding")), "must be an array of Codings")
		}
		for j, cd := range codings {
			at := []pathSeg{key("category"), index(i), key("coding"), index(j)}
			coding, ok := cd.(object)
			if !ok {
				return "", failf(ErrInvalid, jsonPath(at...), "must be an object (a Coding)")
			}
			system, hasSystem, err := stringMember(coding, "system", at)
			if err != nil {
				return "", err
			}
			code, _, err := stringMember(coding, "code", at)
			if err != nil {
				return "", err
			}
			if code == "vital-signs" && (!hasSystem || system == observationCategorySystem) {
				category = "vitals"
			}
		}
	}
	return category, nil
}

// stringMember returns obj's member name, which must be a string if present;
// at is the path of obj.
func stringMember(obj object, name string, at []pathSeg) (string, bool, error) {
	v, ok := obj.get(name)
	if !ok {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, failf(ErrInvalid, jsonPath(append(at[:len(at):len(at)], key(name))...), "must be a string")
	}
	return s, true, nil
}

// validID reports whether s has FHIR id syntax, [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
