// Package mhealth defines what a wearable sends: readings in Open mHealth
// shapes (heart rate, blood pressure, oxygen saturation, body temperature,
// step count), their plausibility rules, and the signed batch they travel in,
// with one compact, versioned, deterministic binary encoding that the device
// simulator signs and the ingest service verifies, stores and anchors.
//
// It must never accept a batch whose signature does not cover every byte it
// decodes (the signature is checked before decoding, over the exact payload,
// and decoding refuses trailing bytes and any non-canonical encoding), and
// never accept an implausible reading silently: a reading whose kind, unit,
// value or time breaks a rule is refused by Validate with an error that names
// the field and the rule.
package mhealth
