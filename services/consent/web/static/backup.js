// A backup of the patient's key for a second device: the PKCS #8 private
// key, encrypted with AES-256-GCM under a key derived from a passphrase
// (PBKDF2-SHA-256, 600,000 iterations, a random 16-byte salt), the patient
// id bound as additional data so a file cannot be relabelled. A backup can
// only be made when the key is made: the key the device keeps cannot be
// exported afterwards. The format is checked against Go's crypto in
// services/consent/web/backup_test.go.

export const FORMAT = "healthexchange-key-backup/v1";
export const ITERATIONS = 600000;
export const MIN_PASSPHRASE = 12;

const enc = new TextEncoder();

function b64(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

function aad(patientId) {
  return enc.encode(FORMAT + "|" + patientId);
}

async function wrappingKey(subtle, passphrase, salt, iterations, usage) {
  const base = await subtle.importKey("raw", enc.encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  return subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, { name: "AES-GCM", length: 256 }, false, [usage]);
}

// seal encrypts the PKCS #8 bytes of patientId's key under passphrase and
// returns the backup file's JSON text. salt and iv are random unless given
// (the tests give them).
export async function seal(subtle, patientId, pkcs8, passphrase, { salt, iv } = {}) {
  if (String(passphrase).length < MIN_PASSPHRASE) throw new Error("the passphrase must have at least " + MIN_PASSPHRASE + " characters");
  salt = salt || crypto.getRandomValues(new Uint8Array(16));
  iv = iv || crypto.getRandomValues(new Uint8Array(12));
  const key = await wrappingKey(subtle, passphrase, salt, ITERATIONS, "encrypt");
  const ciphertext = await subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(patientId) }, key, pkcs8);
  return JSON.stringify({
    format: FORMAT, patientId,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations: ITERATIONS, salt: b64(salt) },
    cipher: { name: "AES-GCM", iv: b64(iv) },
    ciphertext: b64(ciphertext),
  });
}

// open decrypts a backup file's text with passphrase and returns the
// patient id and the PKCS #8 bytes; a wrong passphrase or a changed file
// fails.
export async function open(subtle, text, passphrase) {
  let f;
  try { f = JSON.parse(text); } catch { throw new Error("this is not a key backup file"); }
  if (!f || f.format !== FORMAT || typeof f.patientId !== "string" || !f.kdf || !f.cipher || typeof f.ciphertext !== "string" ||
      f.kdf.name !== "PBKDF2" || f.kdf.hash !== "SHA-256" || f.cipher.name !== "AES-GCM" ||
      !Number.isInteger(f.kdf.iterations) || f.kdf.iterations < 100000 || f.kdf.iterations > 10000000) {
    throw new Error("this is not a key backup file of this exchange");
  }
  const key = await wrappingKey(subtle, passphrase, unb64(f.kdf.salt), f.kdf.iterations, "decrypt");
  try {
    const pkcs8 = await subtle.decrypt({ name: "AES-GCM", iv: unb64(f.cipher.iv), additionalData: aad(f.patientId) }, key, unb64(f.ciphertext));
    return { patientId: f.patientId, pkcs8: new Uint8Array(pkcs8) };
  } catch {
    throw new Error("the passphrase is wrong, or the file was changed");
  }
}
