package fhir_test

import (
	"testing"

	"healthexchange/services/domain/fhir"
)

// BenchmarkValidate is what a put pays to validate a resource against the
// R4 structure: Validate, and Inspect (every other check, what a read
// does) as its baseline, on the 5 KB ExplanationOfBenefit and the lab
// Observation of testdata/r4.
func BenchmarkValidate(b *testing.B) {
	for _, name := range []string{"ExplanationOfBenefit.json", "Observation.json"} {
		raw := readFixture(b, "r4/"+name)
		for _, check := range []struct {
			name string
			fn   func([]byte, string) (fhir.Resource, error)
		}{{"inspect", fhir.Inspect}, {"r4", fhir.Validate}} {
			b.Run(name+"/"+check.name, func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					if _, err := check.fn(raw, "p-example"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
