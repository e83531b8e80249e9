package anonymize

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Defaults of a Pseudonymizer.
const (
	// DefaultPseudonymLength is 16 hex characters (64 bits): the chance that
	// two of a million patients share a pseudonym is below 10^-7.
	DefaultPseudonymLength = 16
	// DefaultMaxShiftDays bounds the date offset: each patient's dates move
	// by 1 to 365 days, earlier or later.
	DefaultMaxShiftDays = 365
)

// PseudonymOption configures NewPseudonymizer.
type PseudonymOption func(*Pseudonymizer) error

// WithPseudonymLength sets how many hex characters of the HMAC a pseudonym
// keeps, 16 to 64.
func WithPseudonymLength(n int) PseudonymOption {
	return func(p *Pseudonymizer) error {
		if n < 16 || n > 64 {
			return fail(ErrConfig, "pseudonym length %d outside 16..64", n)
		}
		p.length = n
		return nil
	}
}

// WithMaxShiftDays sets the largest date offset, 1 to 3650 days.
func WithMaxShiftDays(n int) PseudonymOption {
	return func(p *Pseudonymizer) error {
		if n < 1 || n > 3650 {
			return fail(ErrConfig, "max shift %d days outside 1..3650", n)
		}
		p.maxShift = n
		return nil
	}
}

// Pseudonymizer holds one dataset's secret key. It is step 2 (pseudonyms)
// and draws the per-patient date offsets of step 3.
//
// Pseudonym replaces the patient id so the researcher cannot look the
// patient up, while rows of one patient still link within the dataset. The
// key is drawn at random for each dataset and never leaves the value:
// pseudonyms from two datasets cannot be joined, and nobody (including this
// service after Forget) can recompute or reverse them. It cannot be printed,
// marshalled to JSON or encoded; Forget zeroes it once the dataset is built.
//
// Pseudonym, ShiftDate and SummarizeReadings are safe for concurrent use;
// Forget must not run concurrently with them.
type Pseudonymizer struct {
	pseudoKey [32]byte // HMAC key of pseudonyms, derived from the dataset key
	shiftKey  [32]byte // HMAC key of date offsets, derived from the dataset key
	forgotten bool
	length    int
	maxShift  int
}

// NewPseudonymizer draws a fresh random 32-byte dataset key. Pseudonyms and
// date offsets use two keys derived from it (HMAC-SHA256 of the key over a
// label), so an offset never reveals a pseudonym or the other way round; the
// dataset key itself is zeroed before NewPseudonymizer returns.
func NewPseudonymizer(opts ...PseudonymOption) (*Pseudonymizer, error) {
	p := &Pseudonymizer{length: DefaultPseudonymLength, maxShift: DefaultMaxShiftDays}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil { // never fails since Go 1.24; kept for clarity
		return nil, fmt.Errorf("anonymize: drawing dataset key: %w", err)
	}
	derive(&p.pseudoKey, key[:], "healthexchange/anonymize/pseudonym/v1")
	derive(&p.shiftKey, key[:], "healthexchange/anonymize/date-shift/v1")
	clear(key[:])
	return p, nil
}

func derive(dst *[32]byte, key []byte, label string) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Sum(dst[:0])
}

func (p *Pseudonymizer) mac(key *[32]byte, patientID string) [32]byte {
	if p.forgotten {
		// A zeroed key would give pseudonyms anyone can recompute.
		panic("anonymize: Pseudonymizer used after Forget")
	}
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(patientID))
	var sum [32]byte
	m.Sum(sum[:0])
	return sum
}

// Pseudonym returns the patient's pseudonym in this dataset: the first N hex
// characters of HMAC-SHA256(key, patientID). It is stable within the dataset
// and unrelated across datasets. It panics after Forget.
func (p *Pseudonymizer) Pseudonym(patientID string) string {
	sum := p.mac(&p.pseudoKey, patientID)
	return hex.EncodeToString(sum[:])[:p.length]
}

// shiftDays returns the patient's date offset: 1 to maxShift days, earlier or
// later, never zero, the same for every date of the patient.
func (p *Pseudonymizer) shiftDays(patientID string) int {
	sum := p.mac(&p.shiftKey, patientID)
	v := binary.BigEndian.Uint64(sum[:8])
	days := int(v>>1%uint64(p.maxShift)) + 1 // modulo bias < 2^-50
	if v&1 == 1 {
		days = -days
	}
	return days
}

// ShiftDate moves t by the patient's offset. Every date and reading time of
// one patient moves by the same number of days, so intervals (length of
// stay, time since diagnosis) survive, while the calendar dates no longer
// match a record the researcher might hold. It panics after Forget.
func (p *Pseudonymizer) ShiftDate(patientID string, t time.Time) time.Time {
	return t.AddDate(0, 0, p.shiftDays(patientID))
}

// Forget zeroes the keys. Afterwards no pseudonym or offset of this dataset
// can be recomputed, and every method panics rather than use a zero key.
func (p *Pseudonymizer) Forget() {
	clear(p.pseudoKey[:])
	clear(p.shiftKey[:])
	p.forgotten = true
}

// errNoSerialize is returned by every encoder, so a key never leaves by
// accident.
var errNoSerialize = errors.New("anonymize: a Pseudonymizer is never serialized")

// Format prints no key material, whatever the verb (%v, %+v, %#v, %x). It
// has a value receiver so that printing a copy is redacted too.
func (p Pseudonymizer) Format(f fmt.State, _ rune) { //nolint:gocritic // value receiver on purpose

	fmt.Fprint(f, "anonymize.Pseudonymizer{key: redacted}")
}

// MarshalJSON refuses: the key is never serialized.
func (p *Pseudonymizer) MarshalJSON() ([]byte, error) { return nil, errNoSerialize }

// MarshalText refuses: the key is never serialized.
func (p *Pseudonymizer) MarshalText() ([]byte, error) { return nil, errNoSerialize }

// MarshalBinary refuses: the key is never serialized.
func (p *Pseudonymizer) MarshalBinary() ([]byte, error) { return nil, errNoSerialize }

// GobEncode refuses: the key is never serialized.
func (p *Pseudonymizer) GobEncode() ([]byte, error) { return nil, errNoSerialize }
