package patientkey

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/durable"
)

// maxKeyFile bounds a key file (one is about 150 bytes).
const maxKeyFile = 4096

// keyFile is how a key is kept on the patient's device.
type keyFile struct {
	PatientID string `json:"patientId"`
	Seed      string `json:"seed"` // base64 Ed25519 seed
	LastNonce uint64 `json:"lastNonce"`
}

// Save writes the key to path, readable by its owner only (0600). The last
// nonce is saved too, so the next payload carries a greater one.
func (k *Key) Save(path string) error {
	k.mu.Lock()
	f := keyFile{PatientID: k.patientID, Seed: base64.StdEncoding.EncodeToString(k.private.Seed()), LastNonce: k.nonce}
	k.mu.Unlock()
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("patientkey: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("patientkey: %w", err)
	}
	return durable.WriteFile(path, raw, 0o600)
}

// Load reads a key saved with Save. It refuses a key file that others can
// read.
func Load(path string) (*Key, error) {
	raw, err := durable.ReadSecret(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("patientkey: %w", err)
	}
	defer clear(raw)
	var f keyFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("patientkey: %s: %w", path, err)
	}
	seed, err := base64.StdEncoding.DecodeString(f.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("patientkey: " + path + " holds no valid Ed25519 seed")
	}
	if err := ledgerapi.ValidateID("patientId", f.PatientID); err != nil {
		return nil, fmt.Errorf("patientkey: %s: %w", path, err)
	}
	return &Key{patientID: f.PatientID, private: ed25519.NewKeyFromSeed(seed), nonce: f.LastNonce}, nil
}
