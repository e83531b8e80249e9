package research

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/wearables/mhealth"
)

func TestSpecValidateRefuses(t *testing.T) {
	day := 24 * time.Hour
	tests := map[string]struct {
		change func(*Spec)
		want   string
	}{
		"no study":              {func(s *Spec) { s.StudyID = "" }, "study_id"},
		"bad study id":          {func(s *Spec) { s.StudyID = "study 1" }, "study_id"},
		"no categories":         {func(s *Spec) { s.Categories = nil }, "at least one record category"},
		"unknown category":      {func(s *Spec) { s.Categories = []string{"labs", "genome"} }, "categories[1]"},
		"repeated category":     {func(s *Spec) { s.Categories = []string{"labs", "labs"} }, `categories[1]: "labs" is repeated`},
		"kinds without vitals":  {func(s *Spec) { s.ReadingKinds = []mhealth.Kind{mhealth.HeartRate} }, "reading_kinds: needs category vitals"},
		"unknown field":         {func(s *Spec) { s.Fields = []string{"code", "name"} }, `fields[1]: "name"`},
		"identifier field":      {func(s *Spec) { s.Fields = []string{"pseudonym"} }, `fields[0]: "pseudonym"`},
		"repeated field":        {func(s *Spec) { s.Fields = []string{"code", "code"} }, `fields[1]: "code" is repeated`},
		"no from":               {func(s *Spec) { s.From = time.Time{} }, "from and to are both required"},
		"no to":                 {func(s *Spec) { s.To = time.Time{} }, "from and to are both required"},
		"empty window":          {func(s *Spec) { s.To = s.From }, "from must be before to"},
		"reversed window":       {func(s *Spec) { s.From, s.To = s.To, s.From }, "from must be before to"},
		"window over 366 days":  {func(s *Spec) { s.To = s.From.Add(366*day + time.Second) }, "at most 366 days"},
		"k 0":                   {func(s *Spec) { s.K = 0 }, "k must be 2 to 1000"},
		"k 1":                   {func(s *Spec) { s.K = 1 }, "k must be 2 to 1000"},
		"k negative":            {func(s *Spec) { s.K = -5 }, "k must be 2 to 1000"},
		"k too large":           {func(s *Spec) { s.K = MaxK + 1 }, "k must be 2 to 1000"},
		"raw with year":         {func(s *Spec) { s.Readings, s.Dates = RawReadings, YearOnly }, "readings raw needs dates shift"},
		"daily with year":       {func(s *Spec) { s.Readings, s.Dates = DailySummary, YearOnly }, "readings daily needs dates shift"},
		"unknown readings mode": {func(s *Spec) { s.Readings = "hourly" }, `readings "hourly"`},
		"unknown date rule":     {func(s *Spec) { s.Dates = "month" }, `dates "month"`},
		"suppression negative":  {func(s *Spec) { s.MaxSuppression = -0.1 }, "max_suppression"},
		"suppression over cap":  {func(s *Spec) { s.MaxSuppression = 0.51 }, "max_suppression"},
		"suppression NaN":       {func(s *Spec) { s.MaxSuppression = math.NaN() }, "max_suppression"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := labsSpec()
			tc.change(&s)
			err := s.validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("validate = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate = %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestSpecValidateReportsEveryProblem(t *testing.T) {
	s := Spec{Categories: []string{"genome"}, Fields: []string{"name"}, K: 1, MaxSuppression: 2}
	err := s.validate()
	for _, want := range []string{"study_id", "categories[0]", `fields[0]: "name"`, "from and to", "k must be", "max_suppression"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate = %v, want it to say %q", err, want)
		}
	}
}

func TestSpecValidateAccepts(t *testing.T) {
	tests := map[string]func(*Spec){
		"the defaults":            func(*Spec) {},
		"a 366-day window":        func(s *Spec) { s.To = s.From.Add(MaxWindow) },
		"k 2":                     func(s *Spec) { s.K = 2 },
		"k at the cap":            func(s *Spec) { s.K = MaxK },
		"suppression at the cap":  func(s *Spec) { s.MaxSuppression = MaxSuppressionCap },
		"raw with shift":          func(s *Spec) { s.Readings, s.Dates = RawReadings, ShiftedDays },
		"window with year":        func(s *Spec) { s.Readings, s.Dates = WindowSummary, YearOnly },
		"vitals and reading kind": func(s *Spec) { s.Categories, s.ReadingKinds = []string{"vitals"}, []mhealth.Kind{mhealth.StepCount} },
		"some fields":             func(s *Spec) { s.Fields = []string{ColCode, ColSex} },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			s := labsSpec()
			change(&s)
			if err := s.validate(); err != nil {
				t.Fatalf("validate = %v", err)
			}
		})
	}
}

func TestSpecDefaults(t *testing.T) {
	s := labsSpec()
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Fields, choosable) {
		t.Errorf("Fields = %v, want every choosable column %v", s.Fields, choosable)
	}
	if s.Dates != YearOnly || s.Readings != WindowSummary || s.MaxSuppression != DefaultSuppression {
		t.Errorf("Dates, Readings, MaxSuppression = %q, %q, %v; want year, window, %v", s.Dates, s.Readings, s.MaxSuppression, DefaultSuppression)
	}

	shifted := labsSpec()
	shifted.Dates = ShiftedDays
	if err := shifted.validate(); err != nil {
		t.Fatal(err)
	}
	if shifted.Readings != DailySummary {
		t.Errorf("with dates shift, Readings = %q, want daily", shifted.Readings)
	}
}

func TestSpecCategories(t *testing.T) {
	tests := map[string]struct {
		categories, fields []string
		consent, records   []string
		qis                []string
	}{
		"a quasi-identifier needs demographics": {
			categories: []string{"labs"}, fields: []string{ColAgeBand, ColCode},
			consent: []string{"demographics", "labs"}, records: []string{"labs"}, qis: []string{ColAgeBand},
		},
		"no quasi-identifier, no demographics": {
			categories: []string{"labs", "conditions"}, fields: []string{ColCode, ColValue},
			consent: []string{"conditions", "labs"}, records: []string{"labs", "conditions"},
		},
		"vitals and demographics are not read as records": {
			categories: []string{"vitals", "demographics", "labs"}, fields: []string{ColZIP3, ColSex},
			consent: []string{"demographics", "labs", "vitals"}, records: []string{"labs"}, qis: []string{ColSex, ColZIP3},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := Spec{Categories: tc.categories, Fields: tc.fields}
			if got := s.consentCategories(); !slices.Equal(got, tc.consent) {
				t.Errorf("consentCategories = %v, want %v", got, tc.consent)
			}
			if got := s.recordCategories(); !slices.Equal(got, tc.records) {
				t.Errorf("recordCategories = %v, want %v", got, tc.records)
			}
			if got := s.qis(); !slices.Equal(got, tc.qis) {
				t.Errorf("qis = %v, want %v", got, tc.qis)
			}
		})
	}
}

func TestSpecFromProto(t *testing.T) {
	valid := func() *researchv1.DatasetSpec {
		return &researchv1.DatasetSpec{StudyId: "study-1", Categories: []string{"labs", "vitals"}, ReadingKinds: []string{"heart-rate", "blood-pressure"},
			From: "2024-06-01T00:00:00Z", To: "2025-06-01T00:00:00+02:00", K: 5,
			Readings: researchv1.ReadingsMode_READINGS_MODE_RAW, Dates: researchv1.DateRule_DATE_RULE_SHIFT, MaxSuppression: 0.1}
	}
	s, err := specFromProto(valid())
	if err != nil {
		t.Fatal(err)
	}
	if s.StudyID != "study-1" || s.K != 5 || s.Readings != RawReadings || s.Dates != ShiftedDays || s.MaxSuppression != 0.1 ||
		!slices.Equal(s.ReadingKinds, []mhealth.Kind{mhealth.HeartRate, mhealth.BloodPressure}) ||
		!s.From.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)) || !s.To.Equal(time.Date(2025, 5, 31, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("specFromProto = %+v", s)
	}
	if err := s.validate(); err != nil {
		t.Errorf("validate = %v", err)
	}
	// A validated spec goes through specProto and back unchanged.
	back, err := specFromProto(specProto(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := back.validate(); err != nil {
		t.Fatal(err)
	}
	if !back.From.Equal(s.From) || !back.To.Equal(s.To) || !slices.Equal(back.Fields, s.Fields) || back.Readings != s.Readings || back.Dates != s.Dates {
		t.Errorf("specFromProto(specProto(s)) = %+v, want %+v", back, s)
	}

	refusals := map[string]struct {
		change func(*researchv1.DatasetSpec)
		want   string
	}{
		"bad from":      {func(p *researchv1.DatasetSpec) { p.From = "2024-06-01" }, "from: not an RFC 3339 time"},
		"bad to":        {func(p *researchv1.DatasetSpec) { p.To = "yesterday" }, "to: not an RFC 3339 time"},
		"bad kind":      {func(p *researchv1.DatasetSpec) { p.ReadingKinds = []string{"heart-rate", "mood"} }, "reading_kinds[1]"},
		"unknown mode":  {func(p *researchv1.DatasetSpec) { p.Readings = 99 }, "readings: unknown mode"},
		"unknown dates": {func(p *researchv1.DatasetSpec) { p.Dates = 99 }, "dates: unknown rule"},
	}
	for name, tc := range refusals {
		t.Run(name, func(t *testing.T) {
			p := valid()
			tc.change(p)
			_, err := specFromProto(p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("specFromProto = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
	if _, err := specFromProto(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("specFromProto(nil) = %v, want ErrInvalid", err)
	}
}
