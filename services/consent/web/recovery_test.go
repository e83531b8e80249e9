package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/patientkey"
)

// The recovery key's file is the patient CLI's key file: one the page makes
// is the CLI's key (patientkey.Load), one the CLI makes the page reads and
// signs with (kept non-extractable), and files that are not keys are
// refused in words.
func TestRecoveryKeyFile(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the page's code (.ci/run installs it)")
	}
	dir := t.TempDir()
	cli, err := patientkey.Generate("pat-carol")
	if err != nil {
		t.Fatal(err)
	}
	cliFile := filepath.Join(dir, "cli-recovery.json")
	if err := cli.Save(cliFile); err != nil {
		t.Fatal(err)
	}
	recoveryJS, _ := filepath.Abs(filepath.Join("static", "recovery.js"))
	signJS, _ := filepath.Abs(filepath.Join("static", "sign.js"))
	script := filepath.Join(dir, "recovery.mjs")
	os.WriteFile(script, []byte(`
import * as recovery from "file://`+recoveryJS+`";
import * as sign from "file://`+signJS+`";
import { readFileSync } from "node:fs";
const subtle = globalThis.crypto.subtle;
const made = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
const file = recovery.fileOf("pat-dave", await subtle.exportKey("pkcs8", made.privateKey));
const opened = await recovery.open(subtle, readFileSync(process.argv[2], "utf8"));
const payload = sign.recoveryCancel({ patientId: opened.patientId, nonce: 3 });
const refusals = {};
for (const [name, text] of Object.entries({
  "not JSON": "{", "no seed": '{"patientId":"pat-x"}', "a short seed": '{"patientId":"pat-x","seed":"AAAA"}',
  "a bad id": '{"patientId":"../x","seed":"' + "A".repeat(43) + '="}', "too large": " ".repeat(5000), "null": "null",
})) {
  try { await recovery.open(subtle, text); refusals[name] = ""; } catch (err) { refusals[name] = err.message; }
}
console.log(JSON.stringify({ file, publicKey: await sign.publicKeyOf(subtle, made.publicKey),
  opened: { patientId: opened.patientId, publicKey: opened.publicKey, extractable: opened.privateKey.extractable },
  payload, signature: await sign.sign(subtle, opened.privateKey, payload), refusals }));
`), 0o600)
	var out struct {
		File, PublicKey, Payload, Signature string
		Opened                              struct {
			PatientID, PublicKey string
			Extractable          bool
		}
		Refusals map[string]string
	}
	if err := json.Unmarshal(runNode(t, node, script, cliFile), &out); err != nil {
		t.Fatal(err)
	}

	pageFile := filepath.Join(dir, "page-recovery.json")
	os.WriteFile(pageFile, []byte(out.File), 0o600)
	k, err := patientkey.Load(pageFile)
	if err != nil {
		t.Fatalf("the CLI cannot read the page's file: %v\n%s", err, out.File)
	}
	if k.PatientID() != "pat-dave" || k.PublicKey() != out.PublicKey {
		t.Fatalf("the page's file is the key of %s %s, not pat-dave %s", k.PatientID(), k.PublicKey(), out.PublicKey)
	}

	if out.Opened.PatientID != "pat-carol" || out.Opened.PublicKey != cli.PublicKey() || out.Opened.Extractable {
		t.Fatalf("the page read the CLI's file as %+v", out.Opened)
	}
	if err := ledgerapi.VerifySignature(cli.PublicKey(), []byte(out.Payload), out.Signature); err != nil {
		t.Fatalf("the page's signature with the CLI's key: %v", err)
	}
	for name, msg := range out.Refusals {
		if msg == "" {
			t.Errorf("%s: read as a recovery key", name)
		}
	}
	if len(out.Refusals) != 6 {
		t.Fatalf("refusals %v", out.Refusals)
	}
}
