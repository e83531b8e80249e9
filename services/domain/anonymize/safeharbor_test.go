package anonymize

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSafeHarborListHasAll18Items(t *testing.T) {
	list := SafeHarbor()
	if len(list) != 18 {
		t.Fatalf("got %d items, want 18", len(list))
	}
	for i, id := range list {
		if id.Item != i+1 || id.Name == "" || len(id.Columns) == 0 {
			t.Errorf("item %d: %+v", i+1, id)
		}
	}
	list[0].Columns[0] = "changed"
	if SafeHarbor()[0].Columns[0] == "changed" {
		t.Error("SafeHarbor returned the package's own slice")
	}
}

func TestMatch(t *testing.T) {
	tests := map[string]int{ // column name -> Safe Harbor item, 0 for none
		"name": 1, "Last_Name": 1, "street_address": 2, "ZIP": 2, "zip_code": 2, "city": 2,
		"date_of_birth": 3, "admission_date": 3, "home-phone": 4, "fax": 5, "patientEmail": 6,
		"SSN": 7, "mrn": 8, "insurance_member_id": 9, "account_number": 10, "license_number": 11,
		"VIN": 12, "device_serial": 13, "url": 14, "ip_address": 15, "fingerprint": 16, "photo": 17,
		"national_id": 18, "email_address": 6, "client_ip": 15,
		"diagnosis_code": 0, "hba1c": 0, "sex": 0, "drug_name": 0, "heart_rate_mean": 0, "platelet_count": 0,
	}
	for col, want := range tests {
		t.Run(col, func(t *testing.T) {
			id, ok := Match(col)
			if got := map[bool]int{true: id.Item}[ok]; got != want {
				t.Errorf("Match(%q) = item %d, want %d", col, got, want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	good := []Column{{Name: "patient", Kind: PatientID}, {Name: "zip", Kind: QuasiIdentifier, Rule: RuleZIP3}}
	tests := map[string]struct {
		cols []Column
		want error
	}{
		"valid":                                  {good, nil},
		"email declared direct is dropped, fine": {append(good, Column{Name: "email", Kind: DirectIdentifier}), nil},
		"birth date as age band":                 {append(good, Column{Name: "birth_date", Kind: QuasiIdentifier, Rule: RuleAgeBand}), nil},
		"visit date shifted":                     {append(good, Column{Name: "visit_date", Kind: Date, Rule: RuleShift}), nil},
		"email declared sensitive":               {append(good, Column{Name: "email", Kind: Sensitive}), ErrIdentifier},
		"phone as quasi-identifier kept":         {append(good, Column{Name: "phone", Kind: QuasiIdentifier, Rule: RuleKeep}), ErrIdentifier},
		"zip kept whole":                         {[]Column{{Name: "zip", Kind: QuasiIdentifier, Rule: RuleKeep}}, ErrIdentifier},
		"city as ZIP3 is still a city":           {append(good, Column{Name: "city", Kind: Sensitive}), ErrIdentifier},
		"birth date to year reveals 90+":         {append(good, Column{Name: "dob", Kind: Date, Rule: RuleYear}), ErrIdentifier},
		"date declared sensitive":                {append(good, Column{Name: "admission_date", Kind: Sensitive}), ErrIdentifier},
		"no columns":                             {nil, ErrSchema},
		"duplicate":                              {append(good, good[0]), ErrSchema},
		"unknown kind":                           {[]Column{{Name: "x"}}, ErrSchema},
		"quasi-identifier without rule":          {[]Column{{Name: "sex", Kind: QuasiIdentifier}}, ErrSchema},
		"two patient ids":                        {append(good, Column{Name: "p2", Kind: PatientID}), ErrSchema},
		"shift without patient id":               {[]Column{{Name: "visit_date", Kind: Date, Rule: RuleShift}}, ErrSchema},
		"rule on a sensitive column":             {[]Column{{Name: "hr", Kind: Sensitive, Rule: RuleZIP3}}, ErrSchema},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if err := Check(Schema{Columns: tt.cols}); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDropIdentifiers(t *testing.T) {
	s := Schema{Columns: []Column{
		{Name: "patient", Kind: PatientID},
		{Name: "full_name", Kind: DirectIdentifier},
		{Name: "note_id", Kind: DirectIdentifier}, // dropped by kind, not name
		{Name: "email", Kind: Sensitive},          // dropped by name despite its kind
		{Name: "zip", Kind: QuasiIdentifier, Rule: RuleZIP3},
		{Name: "hba1c", Kind: Sensitive},
	}}
	rows := []Row{{"patient": "p1", "full_name": "Ada Lovelace", "note_id": "n-9", "email": "ada@example.org", "zip": "12345", "hba1c": "6.1", "undeclared": "x"}}
	kept, out := DropIdentifiers(s, rows)
	var names []string
	for _, c := range kept.Columns {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"patient", "zip", "hba1c"}, names); diff != "" {
		t.Errorf("kept columns (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Row{{"patient": "p1", "zip": "12345", "hba1c": "6.1"}}, out); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if rows[0]["full_name"] != "Ada Lovelace" {
		t.Error("input row modified")
	}
}
