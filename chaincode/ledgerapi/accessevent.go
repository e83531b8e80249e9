package ledgerapi

import (
	"errors"
	"fmt"
)

// MaxEvents bounds the access events one append may carry.
const MaxEvents = 500

// Length limits of the free-text fields of an access event. They keep the
// fields to labels: an access event must never carry health data.
const (
	maxActionBytes   = 128
	maxResourceBytes = 256
	maxReasonBytes   = 512
)

// AccessEvent records one access decision, allowed or denied. TxID is set by
// the chaincode and must be empty on input.
type AccessEvent struct {
	EventID    string `json:"eventId"`
	Actor      string `json:"actor"`
	ActorOrg   string `json:"actorOrg,omitempty" metadata:",optional"`
	PatientID  string `json:"patientId"`
	Action     string `json:"action"`
	Resource   string `json:"resource"`
	Purpose    string `json:"purpose,omitempty" metadata:",optional"`
	Decision   string `json:"decision"`
	BreakGlass bool   `json:"breakGlass"`
	Reason     string `json:"reason,omitempty" metadata:",optional"`
	Time       string `json:"time"`
	TxID       string `json:"txId,omitempty" metadata:",optional"`
}

// Validate checks an event as a client submits it.
func (e AccessEvent) Validate() error { return e.validate("") }

// validate checks the event, naming its fields with prefix.
func (e AccessEvent) validate(prefix string) error {
	var purposeErr, txErr error
	if e.Purpose != "" {
		purposeErr = ValidatePurpose(prefix+"purpose", e.Purpose)
	}
	if e.TxID != "" {
		txErr = fmt.Errorf("%w: %stxId is set by the chaincode and must be empty", ErrInvalid, prefix)
	}
	_, timeErr := ParseTime(prefix+"time", e.Time)
	return errors.Join(
		ValidateID(prefix+"eventId", e.EventID),
		ValidateID(prefix+"actor", e.Actor),
		ValidateOptionalID(prefix+"actorOrg", e.ActorOrg),
		ValidateID(prefix+"patientId", e.PatientID),
		validateText(prefix+"action", e.Action, maxActionBytes, true),
		validateText(prefix+"resource", e.Resource, maxResourceBytes, true),
		purposeErr,
		oneOf(prefix+"decision", e.Decision, DecisionAllow, DecisionDeny),
		validateText(prefix+"reason", e.Reason, maxReasonBytes, false),
		timeErr,
		txErr,
	)
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
