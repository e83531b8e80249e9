//go:build integration

// Package itest is a harness for integration tests against the real test
// network: it builds and runs service binaries (consentd), issues
// development tokens, registers patients through the patient CLI, asks the
// decision service, and runs a private MinIO server. It is never used by
// production code; every file carries the integration build tag.
package itest
