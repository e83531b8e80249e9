package anonymize

import (
	"slices"
	"strings"
	"unicode"
)

// Identifier is one item of the HIPAA Safe Harbor list of identifiers,
// 45 CFR 164.514(b)(2)(i)(A)-(R), numbered 1 to 18, with the column names
// that denote it. A name starting with "*" matches any column name ending
// in the rest ("*email" matches "patient_email"). Names are compared after
// lower-casing and removing everything but letters and digits.
type Identifier struct {
	Item    int
	Name    string
	Columns []string
}

// safeHarbor is the list; SafeHarbor returns a copy so callers cannot edit it.
var safeHarbor = []Identifier{
	{1, "names", []string{"name", "firstname", "lastname", "fullname", "givenname", "familyname", "surname", "middlename", "maidenname", "*patientname", "*personname", "nickname", "initials"}},
	{2, "geographic subdivisions smaller than a state (ZIP3 allowed, restricted prefixes as 000)", []string{"*address", "street", "*streetaddress", "addressline1", "addressline2", "city", "town", "county", "precinct", "district", "neighborhood", "neighbourhood", "zip", "*zipcode", "*postalcode", "postcode", "zip5", "zip9", "geocode", "latitude", "longitude", "lat", "lon", "lng", "gps", "*location"}},
	{3, "all elements of dates except year (and ages over 89)", []string{"birthdate", "dateofbirth", "dob", "*birthday", "*date", "*datetime", "*timestamp", "deathdate", "dateofdeath", "age", "ageyears"}},
	{4, "telephone numbers", []string{"*phone", "*phonenumber", "telephone", "*mobile", "cell", "cellphone"}},
	{5, "fax numbers", []string{"*fax", "*faxnumber"}},
	{6, "electronic mail addresses", []string{"*email", "*emailaddress", "mail"}},
	{7, "social security numbers", []string{"*ssn", "socialsecuritynumber", "socialsecurity"}},
	{8, "medical record numbers", []string{"mrn", "*medicalrecordnumber", "*medicalrecord", "patientmrn", "chartnumber"}},
	{9, "health plan beneficiary numbers", []string{"*healthplanid", "*healthplannumber", "*memberid", "*insuranceid", "*beneficiaryid", "*policynumber", "medicareid", "medicaidid"}},
	{10, "account numbers", []string{"*accountnumber", "*accountid", "account", "iban", "*cardnumber"}},
	{11, "certificate/license numbers", []string{"*licensenumber", "*licenceid", "*licenseid", "*certificatenumber", "*certificateid", "driverslicense", "passportnumber", "passport"}},
	{12, "vehicle identifiers and serial numbers, including license plates", []string{"vin", "*vehicleid", "*licenseplate", "*plate", "*platenumber"}},
	{13, "device identifiers and serial numbers", []string{"*deviceid", "*serial", "*serialnumber", "udi", "imei", "macaddress", "*devicename"}},
	{14, "web universal resource locators (URLs)", []string{"*url", "website", "homepage", "*uri"}},
	{15, "internet protocol (IP) addresses", []string{"ip", "*ipaddress", "ipv4", "ipv6", "*clientip"}},
	{16, "biometric identifiers, including finger and voice prints", []string{"*fingerprint", "*voiceprint", "*biometric", "*retinascan", "*irisscan", "*faceprint"}},
	{17, "full-face photographs and any comparable images", []string{"*photo", "*photograph", "*image", "*picture", "*portrait", "*selfie"}},
	{18, "any other unique identifying number, characteristic, or code", []string{"patientid", "*nationalid", "*personid", "*userid", "*username", "*uuid", "*guid", "employeeid", "*studentid", "*subjectid"}},
}

// SafeHarbor returns the 18 Safe Harbor identifier items with the column
// names that denote them.
func SafeHarbor() []Identifier {
	out := make([]Identifier, len(safeHarbor))
	for i, id := range safeHarbor {
		out[i] = Identifier{Item: id.Item, Name: id.Name, Columns: slices.Clone(id.Columns)}
	}
	return out
}

// normalize lower-cases name and keeps only letters and digits.
func normalize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Match returns the Safe Harbor item a column name denotes, if any. When
// several names match ("ip_address" ends in "address" too) the longest wins.
func Match(column string) (Identifier, bool) {
	n := normalize(column)
	best, bestLen := -1, 0
	for i, id := range safeHarbor {
		for _, c := range id.Columns {
			suffix, isSuffix := strings.CutPrefix(c, "*")
			if (n == suffix || isSuffix && strings.HasSuffix(n, suffix)) && len(suffix) > bestLen {
				best, bestLen = i, len(suffix)
			}
		}
	}
	if best < 0 || n == "" {
		return Identifier{}, false
	}
	return safeHarbor[best], true
}

// isBirthDate reports whether a column name denotes a birth date, whose year
// alone reveals an age over 89 and so must become an age band.
func isBirthDate(column string) bool {
	switch n := normalize(column); {
	case n == "dob", strings.HasSuffix(n, "birthdate"), strings.HasSuffix(n, "dateofbirth"), strings.HasSuffix(n, "birthday"):
		return true
	}
	return false
}

// outputsIdentifier reports the Safe Harbor item a column would output as
// declared: its name matches an item and neither its kind nor its rule takes
// the identifier out.
func outputsIdentifier(c Column) (Identifier, bool) {
	id, ok := Match(c.Name)
	if !ok {
		if c.Kind == Date && isBirthDate(c.Name) { // "birthday_of_patient" style names
			return safeHarbor[2], true
		}
		return Identifier{}, false
	}
	switch {
	case c.Kind == DirectIdentifier, c.Kind == PatientID:
		return Identifier{}, false
	case id.Item == 2 && c.Kind == QuasiIdentifier && c.Rule == RuleZIP3:
		return Identifier{}, false
	case id.Item == 3 && c.Kind == QuasiIdentifier && c.Rule == RuleAgeBand:
		return Identifier{}, false
	case id.Item == 3 && c.Kind == Date && !isBirthDate(c.Name):
		return Identifier{}, false
	}
	return id, true
}

// dropped reports whether step 1 removes the column: it is declared a direct
// identifier, or its name is on the Safe Harbor list and nothing in its
// declaration makes it safe.
func dropped(c Column) bool {
	if c.Kind == DirectIdentifier {
		return true
	}
	_, bad := outputsIdentifier(c)
	return bad
}

// DropIdentifiers is step 1. It returns the schema without its direct
// identifiers (by declared kind or by Safe Harbor name) and rows holding only
// the columns that remain; columns the schema does not declare are dropped
// too. It protects against direct re-identification: a name, address, phone
// number, record number or any other Safe Harbor identifier in the output.
// The input rows are not modified.
func DropIdentifiers(s Schema, rows []Row) (Schema, []Row) {
	var kept Schema
	for _, c := range s.Columns {
		if !dropped(c) {
			kept.Columns = append(kept.Columns, c)
		}
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		nr := make(Row, len(kept.Columns))
		for _, c := range kept.Columns {
			if v, ok := r[c.Name]; ok {
				nr[c.Name] = v
			}
		}
		out[i] = nr
	}
	return kept, out
}
