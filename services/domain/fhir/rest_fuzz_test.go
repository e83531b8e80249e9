package fhir_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"healthexchange/services/domain/fhir"
)

// FuzzParseSearch: no query makes ParseSearch panic; an accepted search
// names a valid patient, pages within bounds, and only parameters its type
// supports.
func FuzzParseSearch(f *testing.F) {
	for _, q := range []string{
		"patient=pat-1", "patient=Patient/pat-1&category=laboratory&code=http://loinc.org|2339-0,|x,sys|&date=ge2024&date=lt2025-07-02T00:00:00Z&_count=5&_offset=10",
		"patient=a&patient=b", "subject=Patient/p&patient=p", "patient=p&date=ap2024", "patient=p&_count=0", "code=x", "patient=p&code:text=x",
		"patient=p&date=2024-02-30", "patient=p&_format=json", "%zz",
	} {
		f.Add("Observation", q)
		f.Add("Encounter", q)
	}
	f.Fuzz(func(t *testing.T, typ, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		s, err := fhir.ParseSearch(typ, q)
		if err != nil {
			return
		}
		if s.Patient == "" || s.Count < 1 || s.Count > fhir.MaxCount || s.Offset < 0 || s.Type != typ {
			t.Fatalf("accepted %+v", s)
		}
		params := fhir.SearchParams(typ)
		has := func(p string) bool {
			for _, x := range params {
				if x == p {
					return true
				}
			}
			return false
		}
		if s.Category != nil && !has("category") || s.Code != nil && !has("code") || s.Date != nil && !has("date") {
			t.Fatalf("accepted a parameter %s does not support: %+v", typ, s)
		}
		for _, d := range s.Date {
			if !d.End.After(d.Start) {
				t.Fatalf("an empty date range %+v", d)
			}
		}
		s.Matches([]byte(`{"resourceType":"` + typ + `"}`)) // must not panic
	})
}

// FuzzWithServerMeta: for every resource Validate accepts, the served form
// is JSON with the server's id and meta, and every other element exactly
// as filed.
func FuzzWithServerMeta(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"resourceType":"Condition","meta":{"versionId":"9","tag":[{"code":"x"}],"lastUpdated":"2020-01-01T00:00:00Z"},"subject":{"reference":"Patient/pat-1"},"id":"old"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := fhir.Validate(raw, "pat-1")
		if err != nil || res.Type == "Patient" {
			return
		}
		out, err := fhir.WithServerMeta(raw, fhir.ServerMeta{ID: "rec-1", VersionID: 3, LastUpdated: "2026-01-01T00:00:00Z"})
		if err != nil {
			t.Fatalf("a valid resource cannot be served: %v", err)
		}
		var got, want map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("served form is not JSON: %q", out)
		}
		dec = json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		dec.Decode(&want)
		meta := got["meta"].(map[string]any)
		if got["id"] != "rec-1" || meta["versionId"] != "3" || meta["lastUpdated"] != "2026-01-01T00:00:00Z" {
			t.Fatalf("server meta not set: %s", out)
		}
		delete(got, "id")
		delete(want, "id")
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if m, ok := want["meta"].(map[string]any); ok {
			delete(m, "versionId")
			delete(m, "lastUpdated")
		} else {
			want["meta"] = map[string]any{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("served form changed the resource:\nraw    %s\nserved %s", raw, out)
		}
	})
}
