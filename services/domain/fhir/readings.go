package fhir

import (
	"fmt"
	"time"

	"healthexchange/wearables/mhealth"
)

// vitalSign is how a wearable reading kind is written as an R4 vital-signs
// Observation: its LOINC code and display, its profile, and its UCUM unit.
type vitalSign struct {
	code, display, profile, ucum, unit string
}

var vitalSigns = map[mhealth.Kind]vitalSign{
	mhealth.HeartRate:        {"8867-4", "Heart rate", "heartrate", "/min", "beats/minute"},
	mhealth.BloodPressure:    {"85354-9", "Blood pressure panel with all children optional", "bp", "mm[Hg]", "mmHg"},
	mhealth.OxygenSaturation: {"59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "oxygensat", "%", "%"},
	mhealth.BodyTemperature:  {"8310-5", "Body temperature", "bodytemp", "Cel", "C"},
	mhealth.StepCount:        {"55423-8", "Number of steps in unspecified time Pedometer", "", "{steps}", "steps"},
}

// ReadingID is the FHIR id of a wearable reading: the device, the batch's
// sequence number and the reading's index in it, which also name it to the
// ingest service's proof. ok is false when the id would be longer than
// FHIR allows (a device id of more than about 20 characters).
func ReadingID(deviceID string, seq uint64, index int) (id string, ok bool) {
	id = fmt.Sprintf("wr-%x-%d-%d", deviceID, seq, index)
	return id, len(id) <= 64
}

// ReadingObservation is a wearable reading of the patient as an R4
// Observation following the vital-signs profiles (heart rate, blood
// pressure with its systolic and diastolic components, oxygen saturation,
// body temperature; steps as an activity Observation): LOINC code, UCUM
// quantity, effective time, the device by identifier, and the reading's
// place in its signed batch as an identifier (what `clinician proof`
// takes).
func ReadingObservation(patientID, deviceID string, seq uint64, index int, r mhealth.Reading) ([]byte, error) {
	vs, ok := vitalSigns[r.Kind]
	if !ok {
		return nil, fmt.Errorf("%w: reading kind %v has no FHIR mapping", ErrInvalid, r.Kind)
	}
	id, ok := ReadingID(deviceID, seq, index)
	if !ok {
		id = ""
	}
	quantity := func(v float64) map[string]any {
		return map[string]any{"value": v, "unit": vs.unit, "system": "http://unitsofmeasure.org", "code": vs.ucum}
	}
	category := concept(observationCategorySystem, "vital-signs", "Vital Signs")
	var meta any
	if vs.profile != "" {
		meta = map[string]any{"profile": []string{"http://hl7.org/fhir/StructureDefinition/vitalsigns", "http://hl7.org/fhir/StructureDefinition/" + vs.profile}}
	} else {
		category = concept(observationCategorySystem, "activity", "Activity")
	}
	// A struct, for the members in the order FHIR's examples use.
	obs := struct {
		ResourceType      string              `json:"resourceType"`
		ID                string              `json:"id,omitempty"`
		Meta              any                 `json:"meta,omitempty"`
		Identifier        []map[string]string `json:"identifier"`
		Status            string              `json:"status"`
		Category          []map[string]any    `json:"category"`
		Code              map[string]any      `json:"code"`
		Subject           map[string]string   `json:"subject"`
		EffectiveDateTime string              `json:"effectiveDateTime,omitempty"`
		EffectivePeriod   map[string]string   `json:"effectivePeriod,omitempty"`
		Device            map[string]any      `json:"device"`
		ValueQuantity     map[string]any      `json:"valueQuantity,omitempty"`
		Component         []map[string]any    `json:"component,omitempty"`
	}{
		ResourceType: "Observation", ID: id, Meta: meta,
		Identifier: []map[string]string{{"system": "urn:healthexchange:wearable-reading", "value": fmt.Sprintf("%s/%d/%d", deviceID, seq, index)}},
		Status:     "final",
		Category:   []map[string]any{category},
		Code:       map[string]any{"coding": []map[string]string{{"system": "http://loinc.org", "code": vs.code, "display": vs.display}}, "text": vs.display},
		Subject:    map[string]string{"reference": "Patient/" + patientID},
		Device:     map[string]any{"identifier": map[string]string{"system": "urn:healthexchange:device", "value": deviceID}},
	}
	if r.TimeFrame.IsInterval() {
		obs.EffectivePeriod = map[string]string{"start": r.TimeFrame.Start.UTC().Format(time.RFC3339Nano), "end": r.TimeFrame.End.UTC().Format(time.RFC3339Nano)}
	} else {
		obs.EffectiveDateTime = r.TimeFrame.At.UTC().Format(time.RFC3339Nano)
	}
	if r.Kind == mhealth.BloodPressure {
		obs.Component = []map[string]any{
			{"code": concept("http://loinc.org", "8480-6", "Systolic blood pressure"), "valueQuantity": quantity(r.Value)},
			{"code": concept("http://loinc.org", "8462-4", "Diastolic blood pressure"), "valueQuantity": quantity(r.Diastolic)},
		}
	} else {
		obs.ValueQuantity = quantity(r.Value)
	}
	return Marshal(obs)
}
