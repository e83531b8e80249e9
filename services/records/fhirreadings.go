package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/pep"
	"healthexchange/services/store/readingstore"
)

// Bounds of the wearable readings one search returns: the span of its date
// range and how many readings it may hold.
const (
	maxReadingSpan = 7 * 24 * time.Hour
	maxReadings    = 5000
)

// readingMatch is a wearable reading a search matched, as served.
type readingMatch struct {
	fullURL string
	raw     []byte
}

// readingsAsked reports whether an Observation search asks for wearable
// readings: a category of vital-signs or activity, and a date range
// bounded on both sides, of at most maxReadingSpan (else ErrInvalid).
func readingsAsked(q fhir.Search) (from, to time.Time, ok bool, err error) {
	if q.Type != "Observation" {
		return
	}
	wanted := false
	for _, t := range q.Category {
		if (t.Code == "vital-signs" || t.Code == "activity") && (!t.HasSystem || t.System == "http://terminology.hl7.org/CodeSystem/observation-category") {
			wanted = true
		}
	}
	if !wanted {
		return
	}
	for _, d := range q.Date {
		switch d.Prefix {
		case "eq":
			from, to = later(from, d.Start), earlier(to, d.End)
		case "ge", "sa":
			from = later(from, d.Start)
		case "gt":
			from = later(from, d.End)
		case "lt", "eb":
			to = earlier(to, d.Start)
		case "le":
			to = earlier(to, d.End)
		}
	}
	if from.IsZero() || to.IsZero() {
		return time.Time{}, time.Time{}, false, nil
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, false, nil
	}
	if to.Sub(from) > maxReadingSpan {
		return time.Time{}, time.Time{}, false, fmt.Errorf("%w: a search of wearable readings (category vital-signs or activity with a date range) spans at most %v", ErrInvalid, maxReadingSpan)
	}
	return from, to, true, nil
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// searchReadings returns the patient's wearable readings that match an
// Observation search asking for them (readingsAsked), if the caller may
// read the patient's vitals: one decision (and access event) for them all.
// A deny returns none, as withheld records are left out.
func (s *Service) searchReadings(ctx context.Context, p auth.Principal, base string, q fhir.Search) ([]readingMatch, error) {
	from, to, ok, err := readingsAsked(q)
	if err != nil || !ok || s.wearables == nil {
		return nil, err
	}
	ctx, span := tracer.Start(ctx, "fhir-readings")
	defer span.End()
	_, err = s.authorize(ctx, p, pep.Access{Action: actionRead, Purpose: defaultPurpose, PatientID: q.Patient, Category: "vitals",
		ResourceType: "Observation", Interaction: interactionSearch})
	if errors.Is(err, ErrDenied) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []readingMatch
	err = readingstore.NewArchive(s.wearables, s.vault).Readings(ctx, q.Patient, from, to, func(r readingstore.StoredReading) error {
		raw, err := fhir.ReadingObservation(q.Patient, r.DeviceID, r.Seq, r.Index, r.Reading)
		if err != nil || !q.Matches(raw) {
			return err
		}
		if len(out) == maxReadings {
			return fmt.Errorf("%w: more than %d wearable readings match; narrow the date range", ErrInvalid, maxReadings)
		}
		fullURL := fmt.Sprintf("urn:healthexchange:wearable-reading:%s/%d/%d", r.DeviceID, r.Seq, r.Index) // an id too long for FHIR
		if id, ok := fhir.ReadingID(r.DeviceID, r.Seq, r.Index); ok {
			fullURL = base + "/Observation/" + id
		}
		out = append(out, readingMatch{fullURL: fullURL, raw: raw})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
