// The payloads the patient signs, byte for byte as the chaincode reads
// them (chaincode/ledgerapi: the same fields in the same order as Go's
// encoding/json writes them), and their Ed25519 signatures over the
// signing context and those bytes. It runs in the page and in Node (the
// shared test vectors: services/consent/web/sign_test.go).

export const SIGNING_CONTEXT = "healthexchange/v1\n";

const encoder = new TextEncoder();

// Go's encoding/json escapes <, > and & in strings; so does this, so a
// payload is the same bytes whichever side wrote it.
function str(s) {
  return JSON.stringify(String(s)).replace(/[<>&\u2028\u2029]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

function list(xs) {
  return "[" + xs.map(str).join(",") + "]";
}

function header(op, nonce, patientId) {
  if (!Number.isSafeInteger(nonce) || nonce < 0) {
    throw new Error("nonce must be a whole number");
  }
  return '"op":' + str(op) + ',"nonce":' + nonce + ',"patientId":' + str(patientId);
}

// registration: a patient.register payload (nonce 0), signed by the key it
// registers; with a recovery key, that key and the waiting period of a
// recovery (seconds; 0: the ledger's default), as Go omits them when empty.
export function registration({ patientId, publicKey, recoveryKey = "", recoveryDelaySeconds = 0 }) {
  if (!Number.isSafeInteger(recoveryDelaySeconds) || recoveryDelaySeconds < 0) {
    throw new Error("the waiting period must be a whole number of seconds");
  }
  return "{" + header("patient.register", 0, patientId) + ',"publicKey":' + str(publicKey) +
    (recoveryKey ? ',"recoveryKey":' + str(recoveryKey) : "") +
    (recoveryDelaySeconds ? ',"recoveryDelaySeconds":' + recoveryDelaySeconds : "") + "}";
}

// recoveryRequest: a patient.recover payload, signed by the recovery key
// (nonce: the recovery key's own, one above the ledger's recoveryNonce);
// the new key signs the same bytes.
export function recoveryRequest({ patientId, nonce, newPublicKey }) {
  return "{" + header("patient.recover", nonce, patientId) + ',"newPublicKey":' + str(newPublicKey) + "}";
}

// recoveryCancel: a patient.cancel-recovery payload, signed by the current
// key.
export function recoveryCancel({ patientId, nonce }) {
  return "{" + header("patient.cancel-recovery", nonce, patientId) + "}";
}

// consentGrant: a consent.grant payload. recordIds [] means every record.
export function consentGrant({ patientId, nonce, consentId, grantee, categories, purposes, recordIds = [], notBefore = "", expiresAt = "" }) {
  return "{" + header("consent.grant", nonce, patientId) +
    ',"consentId":' + str(consentId) +
    ',"grantee":{"kind":' + str(grantee.kind) + ',"id":' + str(grantee.id) + "}" +
    ',"categories":' + list(categories) +
    ',"purposes":' + list(purposes) +
    ',"recordIds":' + list(recordIds) +
    ',"notBefore":' + str(notBefore) +
    ',"expiresAt":' + str(expiresAt) + "}";
}

// consentRevocation: a consent.revoke payload.
export function consentRevocation({ patientId, nonce, consentId }) {
  return "{" + header("consent.revoke", nonce, patientId) + ',"consentId":' + str(consentId) + "}";
}

// deviceRegistration: a device.register payload (pairs a wearable's key).
export function deviceRegistration({ patientId, nonce, deviceId, publicKey }) {
  return "{" + header("device.register", nonce, patientId) + ',"deviceId":' + str(deviceId) + ',"publicKey":' + str(publicKey) + "}";
}

// deviceRevocation: a device.revoke payload.
export function deviceRevocation({ patientId, nonce, deviceId }) {
  return "{" + header("device.revoke", nonce, patientId) + ',"deviceId":' + str(deviceId) + "}";
}

function base64(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) {
    s += String.fromCharCode(b);
  }
  return btoa(s);
}

// sign signs payload (a string) with an Ed25519 CryptoKey: the standard
// base64 signature of the signing context then the payload's UTF-8 bytes.
export async function sign(subtle, privateKey, payload) {
  const message = encoder.encode(SIGNING_CONTEXT + payload);
  return base64(await subtle.sign({ name: "Ed25519" }, privateKey, message));
}

// publicKeyOf is the standard base64 of a public CryptoKey's 32 bytes, as
// the ledger names keys.
export async function publicKeyOf(subtle, publicKey) {
  return base64(await subtle.exportKey("raw", publicKey));
}

// timeRFC3339 is a Date as the ledger writes times: UTC, seconds, Z.
export function timeRFC3339(d) {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
