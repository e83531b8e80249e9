// Package ledgerapi is the vocabulary shared by the health chaincode and its
// clients: the types stored on and returned by the ledger, the patient-signed
// payloads, their signatures, and the strict parsers that validate every input
// before the chaincode acts on it. It uses the standard library only, so any
// client can import it without pulling in Fabric.
//
// The ledger is replicated to every organisation and can never be erased, so
// nothing defined here may ever carry health data: only pseudonymous ids,
// hashes, Merkle roots, consent terms and events.
package ledgerapi
