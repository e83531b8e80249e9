// The patient's key on this device: an Ed25519 CryptoKeyPair made by
// WebCrypto with a private key that cannot be exported, kept in IndexedDB
// (the browser stores the key itself, not its bytes), with the last nonce
// this device signed with.

const DB = "healthexchange";
const STORE = "keys";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "patientId" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function run(mode, f) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = f(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(req.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
    tx.onabort = () => { db.close(); reject(tx.error); };
  }));
}

// generate makes a new key pair; the private key is not extractable.
export function generate() {
  return crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
}

// save keeps the key of patientId (replacing none: a second key for the
// same id on this device is refused).
export async function save(patientId, pair) {
  if (await load(patientId)) {
    throw new Error("this device holds a key for " + patientId + " already");
  }
  return run("readwrite", (s) => s.add({ patientId, privateKey: pair.privateKey, publicKey: pair.publicKey, nonce: 0 }));
}

// load is the stored entry of patientId, or undefined.
export function load(patientId) {
  return run("readonly", (s) => s.get(patientId));
}

// first is the first stored entry, or undefined: the key this device signs in with.
export function first() {
  return run("readonly", (s) => s.getAll()).then((all) => all[0]);
}

// setNonce records the last nonce signed with patientId's key, before the
// change is sent: no nonce is signed twice.
export async function setNonce(patientId, nonce) {
  const entry = await load(patientId);
  entry.nonce = nonce;
  return run("readwrite", (s) => s.put(entry));
}

// remove forgets patientId's key on this device.
export function remove(patientId) {
  return run("readwrite", (s) => s.delete(patientId));
}
