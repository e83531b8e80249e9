package consent

import (
	"context"
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
	"healthexchange/services/platform/keylock"
	"healthexchange/services/platform/objectstore"
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

	// shared, when the service runs as several instances, keeps the grants
	// in the object storage they share instead (one object per grant under
	// break-glass/<org>/<clinician>/), so that each instance counts every
	// instance's grants against the daily limit. Its calls are made under
	// one clinician's lock (clinicians), not mu: a slow store holds up that
	// clinician's emergency reads, not everyone's.
	shared     objectstore.Objects
	clinicians keylock.Locks
}

// maxGrantObject bounds what is read back of one stored grant.
const maxGrantObject = 4 << 10

// sharedRecent reads who's grants opened in the 24 hours before now from
// the shared storage, removing older ones.
func (b *breakGlass) sharedRecent(ctx context.Context, prefix string, now time.Time) ([]bgGrant, error) {
	keys, err := b.shared.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []bgGrant
	for _, k := range keys {
		raw, err := b.shared.Get(ctx, k, maxGrantObject)
		if errors.Is(err, objectstore.ErrNotFound) {
			continue // removed meanwhile by another instance
		}
		if err != nil {
			return nil, err
		}
		var g bgGrant
		if err := json.Unmarshal(raw, &g); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if now.Sub(g.Opened) >= 24*time.Hour {
			if err := b.shared.Delete(ctx, k); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
				return nil, err
			}
			continue
		}
		out = append(out, g)
	}
	return out, nil
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
//
// With shared grants, two instances opening a clinician's last grant of the
// day at the same moment may both open it: the limit can be exceeded by
// the number of instances racing, never more.
func (b *breakGlass) admit(org, clinician, patientID string, now time.Time) (bgOutcome, error) {
	who := org + "/" + clinician
	if b.shared != nil {
		return b.admitShared(who, org, clinician, patientID, now)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var recent []bgGrant
	for _, g := range b.grants[who] {
		if now.Sub(g.Opened) < 24*time.Hour {
			recent = append(recent, g)
		}
	}
	out, open := b.limit(recent, patientID, now)
	if !open {
		return out, nil
	}
	g := bgGrant{Patient: patientID, Opened: now, Until: out.until}
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
	return out, nil
}

// admitShared is admit with the grants in the shared storage.
func (b *breakGlass) admitShared(who, org, clinician, patientID string, now time.Time) (bgOutcome, error) {
	if err := errors.Join(ledgerapi.ValidateID("org", org), ledgerapi.ValidateID("clinician", clinician)); err != nil {
		return bgOutcome{}, fmt.Errorf("break-glass: %w", err)
	}
	ctx := context.Background()
	unlock, err := b.clinicians.Lock(ctx, who)
	if err != nil {
		return bgOutcome{}, err
	}
	defer unlock()
	prefix := "break-glass/" + who + "/"
	recent, err := b.sharedRecent(ctx, prefix, now)
	if err != nil {
		return bgOutcome{}, fmt.Errorf("break-glass: reading the grants: %w", err)
	}
	out, open := b.limit(recent, patientID, now)
	if !open {
		return out, nil
	}
	raw, err := json.Marshal(bgGrant{Patient: patientID, Opened: now, Until: out.until})
	if err == nil {
		err = b.shared.Put(ctx, fmt.Sprintf("%s%020d-%s.json", prefix, now.UnixNano(), newID("g")), raw)
	}
	if err != nil {
		return bgOutcome{}, fmt.Errorf("break-glass: saving the grant: %w", err)
	}
	return out, nil
}

// limit decides on a clinician's recent grants (those of the last 24
// hours): an open grant for the patient lets the read through, the daily
// limit reached denies it, and otherwise a new grant is to be opened (open
// true, out.until its end).
func (b *breakGlass) limit(recent []bgGrant, patientID string, now time.Time) (out bgOutcome, open bool) {
	for _, g := range recent {
		if g.Patient == patientID && now.Before(g.Until) {
			return bgOutcome{allow: true, until: g.Until}, false
		}
	}
	if len(recent) >= b.limits.PerDay {
		return bgOutcome{code: "break-glass-limit",
			reason: fmt.Sprintf("break-glass limit reached: %d emergency accesses opened in the last 24 hours (at most %d)", len(recent), b.limits.PerDay)}, false
	}
	return bgOutcome{allow: true, until: now.Add(b.limits.Window), opened: true}, true
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
