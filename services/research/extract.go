package research

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"healthexchange/services/domain/anonymize"
)

// Demographics are the quasi-identifiers of a patient, from the FHIR Patient
// resource of their demographics record. They are read here and generalized
// by the anonymize package; they are never output as read.
type Demographics struct {
	BirthDate string // YYYY-MM-DD
	Sex       string // FHIR gender: male, female, other, unknown
	ZIP       string // the first address's postal code
}

// Fact is what one clinical record contributes to a dataset. Only these
// fields are taken from a resource (an allowlist): its coded concept, a
// numeric value with its unit, and its clinical date. Names, identifiers,
// addresses, narrative text, notes, references and every other element are
// never read, so they cannot reach a file.
type Fact struct {
	Category string
	Code     string // system|code of the first coding, or the code alone
	Value    string // a numeric valueQuantity, "" when there is none
	Unit     string // a UCUM unit expression, or "" when there is none
	Date     time.Time
	// ValueRefused says the resource had a value whose unit is not a UCUM
	// unit expression: Value and Unit are left empty rather than carry it.
	ValueRefused bool
}

// fhirResource is the part of a resource that is read.
type fhirResource struct {
	ResourceType string `json:"resourceType"`
	// Patient.
	BirthDate string `json:"birthDate"`
	Gender    string `json:"gender"`
	Address   []struct {
		PostalCode string `json:"postalCode"`
	} `json:"address"`
	// The coded concept, by resource type.
	Code                      *codeableConcept `json:"code"`
	MedicationCodeableConcept *codeableConcept `json:"medicationCodeableConcept"`
	VaccineCode               *codeableConcept `json:"vaccineCode"`
	ValueQuantity             *struct {
		Value json.Number `json:"value"`
		Unit  string      `json:"unit"`
		Code  string      `json:"code"`
	} `json:"valueQuantity"`
	// Clinical dates, the first one present wins.
	EffectiveDateTime  string                  `json:"effectiveDateTime"`
	EffectivePeriod    *struct{ Start string } `json:"effectivePeriod"`
	OnsetDateTime      string                  `json:"onsetDateTime"`
	RecordedDate       string                  `json:"recordedDate"`
	AuthoredOn         string                  `json:"authoredOn"`
	OccurrenceDateTime string                  `json:"occurrenceDateTime"`
	Issued             string                  `json:"issued"`
	Started            string                  `json:"started"`
	Date               string                  `json:"date"`
}

type codeableConcept struct {
	Coding []struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"coding"`
}

func parseResource(raw []byte) (fhirResource, error) {
	var r fhirResource
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return fhirResource{}, fmt.Errorf("not a FHIR resource: %w", err)
	}
	return r, nil
}

// demographicsOf reads a Patient resource's quasi-identifiers. A missing
// birth date, gender or postal code is an error: the patient cannot be
// placed in a group, so they are left out (and counted).
func demographicsOf(raw []byte) (Demographics, error) {
	r, err := parseResource(raw)
	if err != nil {
		return Demographics{}, err
	}
	if r.ResourceType != "Patient" {
		return Demographics{}, fmt.Errorf("a demographics record is a %s, not a Patient", r.ResourceType)
	}
	d := Demographics{BirthDate: r.BirthDate, Sex: r.Gender}
	if len(r.Address) > 0 {
		d.ZIP = r.Address[0].PostalCode
	}
	if _, err := anonymize.ParseDate(d.BirthDate); err != nil {
		return Demographics{}, fmt.Errorf("Patient.birthDate: %w", err)
	}
	switch d.Sex {
	case "male", "female", "other", "unknown":
	default:
		return Demographics{}, errors.New("the Patient's gender is not male, female, other or unknown")
	}
	if _, err := anonymize.ZIP3(d.ZIP); err != nil {
		return Demographics{}, fmt.Errorf("Patient.address[0].postalCode: %w", err)
	}
	return d, nil
}

// factOf reads the allowlisted fields of a clinical resource. A resource
// without a usable code or a clinical date is an error (left out and
// counted): the code must be in isCode's syntax and its system, if any, an
// absolute URI (isCodeSystem). A value whose unit is not a UCUM unit
// expression (isUCUMUnit) is left out with its unit and the fact says so
// (ValueRefused); a value without a unit is kept.
func factOf(category string, raw []byte) (Fact, error) {
	r, err := parseResource(raw)
	if err != nil {
		return Fact{}, err
	}
	f := Fact{Category: category}
	for _, cc := range []*codeableConcept{r.Code, r.MedicationCodeableConcept, r.VaccineCode} {
		if cc != nil && len(cc.Coding) > 0 && cc.Coding[0].Code != "" {
			c := cc.Coding[0]
			if !isCode(c.Code) || c.System != "" && !isCodeSystem(c.System) {
				return Fact{}, fmt.Errorf("%s has no usable code", r.ResourceType)
			}
			f.Code = c.Code
			if c.System != "" {
				f.Code = c.System + "|" + c.Code
			}
			break
		}
	}
	if f.Code == "" {
		return Fact{}, fmt.Errorf("%s has no usable code", r.ResourceType)
	}
	if q := r.ValueQuantity; q != nil && q.Value != "" {
		v, err := strconv.ParseFloat(string(q.Value), 64)
		if err != nil {
			return Fact{}, fmt.Errorf("%s.valueQuantity.value is not a number", r.ResourceType)
		}
		f.Value = strconv.FormatFloat(v, 'g', -1, 64)
		f.Unit = q.Unit
		if f.Unit == "" {
			f.Unit = q.Code
		}
		if f.Unit != "" && !isUCUMUnit(f.Unit) {
			f.Value, f.Unit, f.ValueRefused = "", "", true
		}
	}
	var start string
	if r.EffectivePeriod != nil {
		start = r.EffectivePeriod.Start
	}
	for _, d := range []string{r.EffectiveDateTime, start, r.OnsetDateTime, r.RecordedDate, r.AuthoredOn, r.OccurrenceDateTime, r.Started, r.Issued, r.Date} {
		if d == "" {
			continue
		}
		t, err := anonymize.ParseDate(d)
		if err != nil {
			return Fact{}, fmt.Errorf("%s has a clinical date that does not parse", r.ResourceType)
		}
		f.Date = t
		break
	}
	if f.Date.IsZero() {
		return Fact{}, fmt.Errorf("%s has no clinical date", r.ResourceType)
	}
	return f, nil
}
