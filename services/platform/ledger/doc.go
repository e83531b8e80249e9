// Package ledger is how the services and tools talk to the "health" chaincode:
// a fabric-gateway connection as one organisation's client identity, typed
// calls for every chaincode function, and the chaincode event stream.
//
// It carries identifiers, hashes and consent terms only; it must never be
// handed health data to put on the ledger.
package ledger
