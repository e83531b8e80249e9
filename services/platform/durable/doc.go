// Package durable keeps what a service has promised on its local disk until it
// has been handed on: files replaced atomically, and a write-ahead journal of
// records with group commit (many concurrent appends share one fsync) and
// acknowledgements that survive a crash.
//
// An append returns only after its records are on disk; it must never report
// success for a record that a crash could lose.
package durable
