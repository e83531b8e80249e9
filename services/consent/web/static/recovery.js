// The recovery key's file, in the form the patient CLI keeps keys
// (services/domain/patientkey): {"patientId", "seed" (the standard base64 of
// the 32-byte Ed25519 seed), "lastNonce"}. The page makes it when the key
// is registered with a recovery key, and reads it to ask for a new key; the
// CLI reads and writes the same file (`patient recovery request
// --recovery-key FILE`).

// MAX_FILE bounds the file the page reads.
export const MAX_FILE = 4096;

// An Ed25519 private key in PKCS #8 is this DER prefix, then its seed.
const PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

const b64 = (bytes) => btoa(String.fromCharCode(...bytes));

// fileOf is the recovery key's file: pkcs8 is the key as WebCrypto exports
// it.
export function fileOf(patientId, pkcs8) {
  const der = new Uint8Array(pkcs8);
  if (der.length !== PREFIX.length + 32 || PREFIX.some((b, i) => der[i] !== b)) {
    throw new Error("not an Ed25519 private key");
  }
  return JSON.stringify({ patientId, seed: b64(der.subarray(PREFIX.length)), lastNonce: 0 }, null, 2) + "\n";
}

// open reads a recovery key's file: its patient id, the key as a
// non-extractable CryptoKey, and its public key (standard base64), or an
// error in words.
export async function open(subtle, text) {
  if (text.length > MAX_FILE) throw new Error("the file is too large to be a recovery key");
  let f;
  try {
    f = JSON.parse(text);
  } catch {
    throw new Error("the file is not a recovery key");
  }
  if (f === null || typeof f !== "object" || typeof f.patientId !== "string" || !ID.test(f.patientId) || typeof f.seed !== "string") {
    throw new Error("the file is not a recovery key");
  }
  let seed;
  try {
    seed = Uint8Array.from(atob(f.seed), (c) => c.charCodeAt(0));
  } catch {
    throw new Error("the file's key is damaged");
  }
  if (seed.length !== 32) throw new Error("the file's key is damaged");
  const der = new Uint8Array([...PREFIX, ...seed]);
  seed.fill(0);
  try {
    // Imported once as extractable only to learn its public key.
    const jwk = await subtle.exportKey("jwk", await subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]));
    const publicKey = b64(Uint8Array.from(atob(jwk.x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)));
    const privateKey = await subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
    return { patientId: f.patientId, privateKey, publicKey };
  } finally {
    der.fill(0);
  }
}
