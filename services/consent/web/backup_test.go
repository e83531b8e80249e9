package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A backup sealed by the page's backup.js opens with Go's standard crypto
// (PBKDF2-SHA-256, AES-256-GCM, the patient id as additional data) to the
// same key; backup.js opens it again, and refuses a wrong passphrase, a
// relabelled file and a short passphrase.
func TestBackupFormat(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the page's backup code (.ci/run installs it)")
	}
	seed := sha256.Sum256([]byte("alice"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	backupJS, _ := filepath.Abs(filepath.Join("static", "backup.js"))
	dir := t.TempDir()
	script := filepath.Join(dir, "backup.mjs")
	os.WriteFile(script, []byte(`
import * as backup from "file://`+backupJS+`";
const subtle = globalThis.crypto.subtle;
const der = Uint8Array.from(atob(process.argv[2]), (c) => c.charCodeAt(0));
const file = await backup.seal(subtle, "pat-alice", der, "correct horse battery");
const back = await backup.open(subtle, file, "correct horse battery");
const refusals = [];
for (const [what, f] of [
  ["a wrong passphrase", () => backup.open(subtle, file, "wrong horse battery")],
  ["a relabelled file", () => backup.open(subtle, file.replace('"patientId":"pat-alice"', '"patientId":"pat-mallory"'), "correct horse battery")],
  ["a short passphrase", () => backup.seal(subtle, "pat-alice", der, "short")],
  ["not a backup", () => backup.open(subtle, "{}", "correct horse battery")],
]) {
  try { await f(); refusals.push(what + ": accepted"); } catch (e) { refusals.push(what + ": " + e.message); }
}
console.log(JSON.stringify({ file, reopened: btoa(String.fromCharCode(...back.pkcs8)), id: back.patientId, refusals }));
`), 0o600)
	out := runNode(t, node, script, base64.StdEncoding.EncodeToString(der))
	var res struct {
		File, Reopened, ID string
		Refusals           []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Reopened != base64.StdEncoding.EncodeToString(der) || res.ID != "pat-alice" {
		t.Fatal("backup.js does not open its own backup to the same key")
	}
	for _, r := range res.Refusals {
		if len(r) > 9 && r[len(r)-9:] == ": accepted" {
			t.Errorf("backup.js accepted %s", r)
		}
	}
	// Go opens it with the standard algorithms, as documented.
	var f struct {
		Format    string
		PatientID string `json:"patientId"`
		KDF       struct {
			Name, Hash string
			Iterations int
			Salt       string
		}
		Cipher     struct{ Name, IV string }
		Ciphertext string
	}
	if err := json.Unmarshal([]byte(res.File), &f); err != nil {
		t.Fatal(err)
	}
	salt, _ := base64.StdEncoding.DecodeString(f.KDF.Salt)
	iv, _ := base64.StdEncoding.DecodeString(f.Cipher.IV)
	ct, _ := base64.StdEncoding.DecodeString(f.Ciphertext)
	if f.Format != "healthexchange-key-backup/v1" || f.PatientID != "pat-alice" || f.KDF.Name != "PBKDF2" || f.KDF.Hash != "SHA-256" ||
		f.Cipher.Name != "AES-GCM" || f.KDF.Iterations != 600000 || len(salt) != 16 || len(iv) != 12 {
		t.Fatalf("kdf %+v, iv %d bytes", f.KDF, len(iv))
	}
	key, err := pbkdf2.Key(sha256.New, "correct horse battery", salt, f.KDF.Iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, iv, ct, []byte("healthexchange-key-backup/v1|pat-alice"))
	if err != nil {
		t.Fatalf("Go cannot open the page's backup: %v", err)
	}
	got, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil || !priv.Equal(got) {
		t.Fatalf("the backup holds another key: %v", err)
	}
}
