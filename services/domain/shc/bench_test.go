package shc

import (
	"encoding/json"
	"testing"
	"time"
)

// benchBundle is a vaccination card's bundle of the size the records
// service issues (a Patient with a birth date, one Immunization).
const benchBundle = `{"resourceType":"Bundle","type":"collection","entry":[` +
	`{"fullUrl":"resource:0","resource":{"resourceType":"Patient","birthDate":"1980-02-03"}},` +
	`{"fullUrl":"resource:1","resource":{"resourceType":"Immunization","status":"completed",` +
	`"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"150","display":"Influenza, injectable, quadrivalent"}]},` +
	`"patient":{"reference":"resource:0"},"occurrenceDateTime":"2026-12-04","lotNumber":"FLU-1234567",` +
	`"performer":[{"actor":{"display":"Providers General Hospital"}}],` +
	`"identifier":[{"system":"urn:healthexchange:notary","value":"rec-a2c8e74307da27de4e793c49/1/e258261375fe746969bfc22ccd89a8b14fad81342e3ed1f8368beeb49c1edd5b"}]}}]}`

// BenchmarkIssue: sign and compress one card.
func BenchmarkIssue(b *testing.B) {
	key, err := NewKey()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(key, "https://records.example/shc/ProvidersMSP", time.Now(), []string{HealthCardType}, json.RawMessage(benchBundle)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeVerify: what a verifier does with a card, and the QR form's
// size.
func BenchmarkDecodeVerify(b *testing.B) {
	key, _ := NewKey()
	jwk, _ := PublicJWK(&key.PublicKey)
	keys := JWKS{Keys: []JWK{jwk}}
	jws, err := Issue(key, "https://records.example/shc/ProvidersMSP", time.Now(), []string{HealthCardType}, json.RawMessage(benchBundle))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := Decode(jws)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Verify(keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(jws)), "jws-chars")
}
