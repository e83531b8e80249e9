package fhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// Prescription is what a pharmacy needs of a MedicationRequest to fill it,
// and what the ledger is told of it (Terms): whether it may be filled, how
// often and until when.
type Prescription struct {
	Status, Intent string
	// Repeats is dispenseRequest.numberOfRepeatsAllowed: the fills after
	// the first.
	Repeats int
	// ValidFrom and ValidUntil are dispenseRequest.validityPeriod at its
	// precision (ValidUntil is the first instant past its end); zero when
	// not stated.
	ValidFrom, ValidUntil time.Time
	// Medication is the medication's text or first display, "" if none:
	// for the pharmacist's eyes, never for the ledger.
	Medication string
	// Quantity is the quantity of one fill as written ("180 tablet"), "" if
	// none.
	Quantity string
}

// fillIntents are the intents of a MedicationRequest that authorise a
// dispense: an order. A proposal or a plan does not.
var fillIntents = map[string]bool{"order": true, "original-order": true, "reflex-order": true, "filler-order": true, "instance-order": true}

// PrescriptionOf reads a MedicationRequest's status, intent and dispense
// request. raw must be a MedicationRequest (Validate has checked it is
// valid R4); a period that cannot be read is an error, never "no expiry".
func PrescriptionOf(raw []byte) (Prescription, error) {
	var r struct {
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Intent       string `json:"intent"`
		Medication   *struct {
			Text   string `json:"text"`
			Coding []struct {
				Display string `json:"display"`
			} `json:"coding"`
		} `json:"medicationCodeableConcept"`
		MedicationRef *struct {
			Reference string `json:"reference"`
		} `json:"medicationReference"`
		Contained []struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			Code         *struct {
				Text   string `json:"text"`
				Coding []struct {
					Display string `json:"display"`
				} `json:"coding"`
			} `json:"code"`
		} `json:"contained"`
		Dispense *struct {
			Validity *struct {
				Start string `json:"start"`
				End   string `json:"end"`
			} `json:"validityPeriod"`
			Repeats  *int `json:"numberOfRepeatsAllowed"`
			Quantity *struct {
				Value json.Number `json:"value"`
				Unit  string      `json:"unit"`
			} `json:"quantity"`
		} `json:"dispenseRequest"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return Prescription{}, fmt.Errorf("fhir: %w: $: not a MedicationRequest", ErrInvalid)
	}
	if r.ResourceType != "MedicationRequest" {
		return Prescription{}, fmt.Errorf("fhir: %w: $.resourceType: a prescription is a MedicationRequest", ErrInvalid)
	}
	p := Prescription{Status: r.Status, Intent: r.Intent}
	display := func(text string, displays []string) string {
		if text != "" {
			return text
		}
		for _, d := range displays {
			if d != "" {
				return d
			}
		}
		return ""
	}
	if m := r.Medication; m != nil {
		var ds []string
		for _, c := range m.Coding {
			ds = append(ds, c.Display)
		}
		p.Medication = display(m.Text, ds)
	}
	if ref := r.MedicationRef; ref != nil && strings.HasPrefix(ref.Reference, "#") {
		for _, c := range r.Contained {
			if c.ResourceType == "Medication" && "#"+c.ID == ref.Reference && c.Code != nil {
				var ds []string
				for _, cd := range c.Code.Coding {
					ds = append(ds, cd.Display)
				}
				p.Medication = display(c.Code.Text, ds)
			}
		}
	}
	if d := r.Dispense; d != nil {
		if d.Repeats != nil {
			if *d.Repeats < 0 || *d.Repeats >= ledgerapi.MaxFills {
				return Prescription{}, fmt.Errorf("fhir: %w: MedicationRequest.dispenseRequest.numberOfRepeatsAllowed: must be 0 to %d", ErrInvalid, ledgerapi.MaxFills-1)
			}
			p.Repeats = *d.Repeats
		}
		if v := d.Validity; v != nil {
			if v.Start != "" {
				start, _, ok := dateRange(v.Start)
				if !ok {
					return Prescription{}, fmt.Errorf("fhir: %w: MedicationRequest.dispenseRequest.validityPeriod.start: not an R4 dateTime", ErrInvalid)
				}
				p.ValidFrom = start
			}
			if v.End != "" {
				_, end, ok := dateRange(v.End)
				if !ok {
					return Prescription{}, fmt.Errorf("fhir: %w: MedicationRequest.dispenseRequest.validityPeriod.end: not an R4 dateTime", ErrInvalid)
				}
				p.ValidUntil = end
			}
		}
		if q := d.Quantity; q != nil && q.Value != "" {
			p.Quantity = strings.TrimSpace(string(q.Value) + " " + q.Unit)
		}
	}
	return p, nil
}

// Active reports whether the request authorises a dispense at all: status
// active and an order (not a proposal or a plan).
func (p Prescription) Active() bool { return p.Status == "active" && fillIntents[p.Intent] }

// Terms are the fill terms the ledger enforces: 1 + Repeats fills while the
// request is active, none otherwise, until ValidUntil.
func (p Prescription) Terms() ledgerapi.FillTerms {
	t := ledgerapi.FillTerms{}
	if p.Active() {
		t.Fills = 1 + p.Repeats
	}
	if !p.ValidUntil.IsZero() {
		t.ValidUntil = ledgerapi.FormatTime(p.ValidUntil.UTC())
	}
	return t
}

// Fillable says why the prescription cannot be filled at t, or nil: it is
// not active, not an order, not yet valid or expired. The ledger has the
// last word (the fills left, the latest version, the patient's consent).
func (p Prescription) Fillable(t time.Time) error {
	switch {
	case p.Status != "active":
		return fmt.Errorf("the prescription's status is %q, not active", p.Status)
	case !fillIntents[p.Intent]:
		return fmt.Errorf("the prescription's intent is %q, not an order", p.Intent)
	case !p.ValidFrom.IsZero() && t.Before(p.ValidFrom):
		return fmt.Errorf("the prescription is valid from %s", p.ValidFrom.UTC().Format(time.RFC3339))
	case !p.ValidUntil.IsZero() && !t.Before(p.ValidUntil):
		return fmt.Errorf("the prescription expired at %s", p.ValidUntil.UTC().Format(time.RFC3339))
	}
	return nil
}
