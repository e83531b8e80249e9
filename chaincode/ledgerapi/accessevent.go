package ledgerapi

import (
	"errors"
	"fmt"
	"strings"
)

// MaxEvents bounds the access events one append may carry.
const MaxEvents = 500

// maxReasonCodes bounds the reason codes of one event.
const maxReasonCodes = 8

// AccessEvent records one access decision, allowed or denied. Every field
// comes from a fixed vocabulary, is an id, or is a hash: no free text, so an
// access event can never carry health information. Resource is
// "category/<category>" or "record/<recordId>". BreakGlassRef, on a
// break-glass event, is a keyed hash (HMAC-SHA256 under a key the deciding
// service keeps) of the reason the clinician gave: it proves later which
// words were given without letting anyone guess them from the ledger.
// RecordedBy (the organisation that wrote the event) and TxID are set by the
// chaincode and must be empty on input.
type AccessEvent struct {
	EventID       string   `json:"eventId"`
	Actor         string   `json:"actor"`
	ActorRole     string   `json:"actorRole"`
	ActorOrg      string   `json:"actorOrg,omitempty" metadata:",optional"`
	PatientID     string   `json:"patientId"`
	Action        string   `json:"action"`
	Resource      string   `json:"resource"`
	Purpose       string   `json:"purpose,omitempty" metadata:",optional"`
	Decision      string   `json:"decision"`
	BreakGlass    bool     `json:"breakGlass"`
	BreakGlassRef string   `json:"breakGlassRef,omitempty" metadata:",optional"`
	ReasonCodes   []string `json:"reasonCodes"`
	Time          string   `json:"time"`
	RecordedBy    string   `json:"recordedBy,omitempty" metadata:",optional"`
	TxID          string   `json:"txId,omitempty" metadata:",optional"`
}

// Validate checks an event as a client submits it.
func (e AccessEvent) Validate() error { return e.validate("") }

// validate checks the event, naming its fields with prefix.
func (e AccessEvent) validate(prefix string) error {
	var purposeErr, orgErr, bgErr, setErr error
	if e.Purpose != "" {
		purposeErr = ValidatePurpose(prefix+"purpose", e.Purpose)
	}
	switch {
	case e.ActorRole == RolePatient && e.ActorOrg != "":
		orgErr = fmt.Errorf("%w: %sactorOrg must be empty for a patient", ErrInvalid, prefix)
	case e.ActorRole != RolePatient:
		orgErr = ValidateID(prefix+"actorOrg", e.ActorOrg)
	}
	switch {
	case e.BreakGlass && e.BreakGlassRef == "":
		bgErr = fmt.Errorf("%w: %sbreakGlassRef is required on a break-glass event", ErrInvalid, prefix)
	case e.BreakGlass:
		bgErr = ValidateHash(prefix+"breakGlassRef", e.BreakGlassRef)
	case e.BreakGlassRef != "":
		bgErr = fmt.Errorf("%w: %sbreakGlassRef is only for break-glass events", ErrInvalid, prefix)
	}
	if e.TxID != "" || e.RecordedBy != "" {
		setErr = fmt.Errorf("%w: %stxId and recordedBy are set by the chaincode and must be empty", ErrInvalid, prefix)
	}
	_, timeErr := ParseTime(prefix+"time", e.Time)
	return errors.Join(
		ValidateID(prefix+"eventId", e.EventID),
		ValidateID(prefix+"actor", e.Actor),
		oneOf(prefix+"actorRole", e.ActorRole, Roles...),
		orgErr,
		ValidateID(prefix+"patientId", e.PatientID),
		oneOf(prefix+"action", e.Action, Actions...),
		validateResource(prefix+"resource", e.Resource),
		purposeErr,
		oneOf(prefix+"decision", e.Decision, DecisionAllow, DecisionDeny),
		bgErr,
		checkList(prefix+"reasonCodes", e.ReasonCodes, 1, maxReasonCodes, ValidateReasonCode),
		timeErr,
		setErr,
	)
}

// validateResource checks that v is "category/<category>" or
// "record/<recordId>".
func validateResource(field, v string) error {
	kind, value, _ := strings.Cut(v, "/")
	switch kind {
	case "category":
		return ValidateCategory(field+" category", value)
	case "record":
		return ValidateID(field+" record id", value)
	}
	return fmt.Errorf("%w: %s must be category/<category> or record/<recordId>", ErrInvalid, field)
}

// AccessEvents is the input of an append: 1 to MaxEvents events with distinct
// event ids.
type AccessEvents []AccessEvent

// Validate checks every event and that no event id repeats.
func (es AccessEvents) Validate() error {
	if len(es) == 0 || len(es) > MaxEvents {
		return fmt.Errorf("%w: events must have 1 to %d entries, has %d", ErrInvalid, MaxEvents, len(es))
	}
	seen := make(map[string]bool, len(es))
	for i, e := range es {
		if err := e.validate(fmt.Sprintf("events[%d].", i)); err != nil {
			return err
		}
		if seen[e.EventID] {
			return fmt.Errorf("%w: events[%d] repeats eventId %s", ErrInvalid, i, e.EventID)
		}
		seen[e.EventID] = true
	}
	return nil
}
