package health

import (
	"fmt"
	"slices"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

// window returns when a consent takes effect and when it ends, nil when it
// never expires.
func window(c *ledgerapi.Consent) (start time.Time, end *time.Time, err error) {
	from := c.NotBefore
	if from == "" {
		from = c.GrantedAt
	}
	if start, err = ledgerapi.ParseTime("notBefore", from); err != nil {
		return start, nil, fmt.Errorf("consent %s: %w", c.ConsentID, err)
	}
	if c.ExpiresAt == "" {
		return start, nil, nil
	}
	expiresAt, err := ledgerapi.ParseTime("expiresAt", c.ExpiresAt)
	if err != nil {
		return start, nil, fmt.Errorf("consent %s: %w", c.ConsentID, err)
	}
	return start, &expiresAt, nil
}

// inForce returns "" when a consent is active at t, else the reason it is not.
func inForce(c *ledgerapi.Consent, t time.Time) (string, error) {
	if c.Status != ledgerapi.StatusActive {
		return fmt.Sprintf("consent %s is revoked", c.ConsentID), nil
	}
	start, end, err := window(c)
	if err != nil {
		return "", err
	}
	if t.Before(start) {
		return fmt.Sprintf("consent %s is not yet valid: it starts at %s", c.ConsentID, ledgerapi.FormatTime(start)), nil
	}
	if end != nil && !t.Before(*end) {
		return fmt.Sprintf("consent %s expired at %s", c.ConsentID, ledgerapi.FormatTime(*end)), nil
	}
	return "", nil
}

// request is a use of a patient's record that a consent may allow.
type request struct {
	subjectID, subjectOrg string
	category, purpose     string
	recordID              string // "" for no particular record
	at                    time.Time
}

// grantedTo reports whether a consent is given to the request's subject: to
// the user at their organisation, or to the user's organisation. A consent to
// a study never matches a subject: only a dataset release for the study can
// cite it.
func (r request) grantedTo(c *ledgerapi.Consent) bool {
	g := c.Grantee
	return r.subjectOrg != "" && (g == ledgerapi.UserGrantee(r.subjectOrg, r.subjectID) ||
		g.Kind == ledgerapi.GranteeOrg && g.ID == r.subjectOrg)
}

// denial returns "" when a consent allows the request, else why it does not
// and how much of the request the consent covers: a consent that covers the
// category, purpose and record but is not in force explains a denial better
// than one that does not cover the category.
func (r request) denial(c *ledgerapi.Consent) (reason string, covers int, err error) {
	switch {
	case !slices.Contains(c.Categories, r.category):
		return fmt.Sprintf("category %s is not granted by consent %s", r.category, c.ConsentID), 0, nil
	case !slices.Contains(c.Purposes, r.purpose):
		return fmt.Sprintf("purpose %s is not granted by consent %s", r.purpose, c.ConsentID), 1, nil
	case len(c.RecordIDs) > 0 && r.recordID == "":
		return fmt.Sprintf("record not granted: consent %s covers named records only", c.ConsentID), 2, nil
	case len(c.RecordIDs) > 0 && !slices.Contains(c.RecordIDs, r.recordID):
		return fmt.Sprintf("record %s is not granted by consent %s", r.recordID, c.ConsentID), 2, nil
	}
	reason, err = inForce(c, r.at)
	return reason, 3, err
}

// decide evaluates the patient's consents in consent-id order: the first that
// allows the request wins. Without one, the decision gives the reason of the
// consent given to the subject that covers most of the request (the first of
// those), or says there is none.
func (r request) decide(consents []ledgerapi.Consent) (*ledgerapi.Decision, error) {
	denied := &ledgerapi.Decision{Reason: "no consent is given to this subject"}
	best := -1
	for i := range consents {
		c := &consents[i]
		if !r.grantedTo(c) {
			continue
		}
		reason, covers, err := r.denial(c)
		if err != nil {
			return nil, err
		}
		if reason == "" {
			return &ledgerapi.Decision{Allowed: true, ConsentID: c.ConsentID, Reason: "allowed by consent " + c.ConsentID}, nil
		}
		if covers > best {
			denied, best = &ledgerapi.Decision{ConsentID: c.ConsentID, Reason: reason}, covers
		}
	}
	return denied, nil
}
