package consent

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
)

// BreakGlassLimits bound emergency access without consent.
type BreakGlassLimits struct {
	// Window is how long one break-glass grant lets a clinician read a
	// patient's records; a read after it opens a new grant.
	Window time.Duration
	// PerDay is how many grants one clinician may open in 24 hours; the
	// next is denied.
	PerDay int
}

// DefaultBreakGlassLimits: four hours per patient, five patients a day.
func DefaultBreakGlassLimits() BreakGlassLimits {
	return BreakGlassLimits{Window: 4 * time.Hour, PerDay: 5}
}

// Validate refuses a limit that is not positive, or a window over a day.
func (l BreakGlassLimits) Validate() error {
	if l.Window <= 0 || l.Window > 24*time.Hour || l.PerDay < 1 {
		return errors.New("consent config: the break-glass window must be within a day and the daily limit at least 1")
	}
	return nil
}

// bgGrant is one opened break-glass grant: a clinician, a patient, a
// window.
type bgGrant struct {
	Patient string    `json:"patient"`
	Opened  time.Time `json:"opened"`
	Until   time.Time `json:"until"`
}

// breakGlass keeps the break-glass grants each clinician opened in the last
// day (break-glass.json, 0600, written before a grant is used) and seals
// their reasons for the patients' feeds.
type breakGlass struct {
	limits BreakGlassLimits
	path   string
	seal   cipher.AEAD

	mu     sync.Mutex
	grants map[string][]bgGrant // by "<org>/<clinician>"
}

// openBreakGlass reads the grants in path and the sealing key in keyPath
// (made the first time).
func openBreakGlass(limits BreakGlassLimits, path, keyPath string) (*breakGlass, error) {
	key, err := loadOrMakeKey(keyPath)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("break-glass: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("break-glass: %w", err)
	}
	b := &breakGlass{limits: limits, path: path, seal: aead, grants: map[string][]bgGrant{}}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("break-glass: %w", err)
	default:
		if err := json.Unmarshal(raw, &b.grants); err != nil {
			return nil, fmt.Errorf("break-glass: %s: %w", path, err)
		}
	}
	return b, nil
}

// bgOutcome is what the limits make of a break-glass request the policy
// allowed.
type bgOutcome struct {
	allow  bool
	code   string // on deny
	reason string // on deny
	until  time.Time
	opened bool // a new grant was opened
}

// admit applies the limits to a clinician's break-glass read of a patient
// at now: an open grant for the patient lets it through; otherwise a new
// grant is opened, and saved, unless the clinician has opened PerDay in
// the last 24 hours. A grant that cannot be saved is not opened.
func (b *breakGlass) admit(org, clinician, patientID string, now time.Time) (bgOutcome, error) {
	who := org + "/" + clinician
	b.mu.Lock()
	defer b.mu.Unlock()
	var recent []bgGrant
	for _, g := range b.grants[who] {
		if now.Sub(g.Opened) < 24*time.Hour {
			recent = append(recent, g)
		}
	}
	for _, g := range recent {
		if g.Patient == patientID && now.Before(g.Until) {
			return bgOutcome{allow: true, until: g.Until}, nil
		}
	}
	if len(recent) >= b.limits.PerDay {
		return bgOutcome{code: "break-glass-limit",
			reason: fmt.Sprintf("break-glass limit reached: %d emergency accesses opened in the last 24 hours (at most %d)", len(recent), b.limits.PerDay)}, nil
	}
	g := bgGrant{Patient: patientID, Opened: now, Until: now.Add(b.limits.Window)}
	next := make(map[string][]bgGrant, len(b.grants))
	for k, gs := range b.grants {
		if k != who {
			next[k] = gs
		}
	}
	next[who] = append(recent, g)
	raw, err := json.Marshal(next)
	if err == nil {
		err = durable.WriteFile(b.path, raw, 0o600)
	}
	if err != nil {
		return bgOutcome{}, fmt.Errorf("break-glass: saving the grant: %w", err)
	}
	b.grants = next
	return bgOutcome{allow: true, until: g.Until, opened: true}, nil
}

// sealReason encrypts a break-glass reason for one patient's feed
// (AES-256-GCM, bound to the patient and the access event).
func (b *breakGlass) sealReason(patientID, eventID, reason string) string {
	nonce := make([]byte, b.seal.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(b.seal.Seal(nonce, nonce, []byte(reason), []byte(patientID+"\x00"+eventID)))
}

// openReason decrypts a sealed reason for the patient it was sealed for.
func (b *breakGlass) openReason(patientID, eventID, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.seal.NonceSize() {
		return "", errors.New("break-glass: malformed sealed reason")
	}
	n := b.seal.NonceSize()
	plain, err := b.seal.Open(nil, raw[:n], raw[n:], []byte(patientID+"\x00"+eventID))
	if err != nil {
		return "", fmt.Errorf("break-glass: the sealed reason does not open: %w", err)
	}
	return string(plain), nil
}

// hospital reports whether an organisation is a hospital: only their
// clinicians may break the glass.
func hospital(org string) bool {
	o, ok := ledgerapi.OrganisationOf(org)
	return ok && o.Kind == ledgerapi.OrgHospital
}
