package consent

import (
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"healthexchange/services/platform/serving"
)

// FuzzTakeChallenge: no answer makes take panic, and only challenges this
// sign-in gave (for that patient, in time) are taken, each once.
func FuzzTakeChallenge(f *testing.F) {
	si, err := newSignIn(verifierFor(f), nil, "consent", nil, &keysLedger{}, nil, discardLog())
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	given, err := si.newChallenge("pat-alice", now.Add(challengeTTL))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(given, "pat-alice")
	f.Add(given, "pat-bob")
	f.Add("", "pat-alice")
	f.Add(base64.RawURLEncoding.EncodeToString(make([]byte, challengeLen)), "pat-alice")
	f.Fuzz(func(t *testing.T, challenge, patientID string) {
		si.used = map[string]time.Time{}
		ok, err := si.take(challenge, patientID, now)
		if err != nil {
			t.Fatal(err)
		}
		if ok && (challenge != given || patientID != "pat-alice") {
			t.Fatalf("took %q for %q", challenge, patientID)
		}
		if ok {
			if again, _ := si.take(challenge, patientID, now); again {
				t.Fatal("taken twice")
			}
		}
	})
}

// FuzzRelayTarget: no request makes the records relay's check panic, and
// what it passes on is the caller's own records, by one of the three paths,
// with only the parameters that path allows, each once.
func FuzzRelayTarget(f *testing.F) {
	fx := newSignInFixture(f, nil)
	token, err := fx.si.token("pat-alice", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	relay, err := newRecordsRelay("", serving.TLSFiles{}, fx.verifier, discardLog())
	if err != nil {
		f.Fatal(err)
	}
	if relay.limit, err = serving.NewLimiter(serving.Rate{PerSecond: 1e9, Burst: 1 << 30}); err != nil { // the bound is TestRecordsRelay's
		f.Fatal(err)
	}
	f.Add(uint8(0), "pat-alice", "", "page_size=10&page_token=abc")
	f.Add(uint8(1), "pat-alice", "rec-1", "version=2")
	f.Add(uint8(2), "pat-alice", "rec-1", "")
	f.Add(uint8(1), "pat-alice", "../x", "version=-1&version=2")
	f.Add(uint8(0), "pat-bob", "", "purpose=emergency")
	f.Fuzz(func(t *testing.T, kind uint8, patient, record, query string) {
		r := httptest.NewRequest("GET", "/app/api/x", nil)
		r.URL.RawQuery = query
		r.SetPathValue("patient", patient)
		r.SetPathValue("record", record)
		r.Header.Set("Authorization", "Bearer "+token)
		k := relayKind(kind % 3)
		target, code, msg := relay.target(k, r)
		if code != 0 {
			if msg == "" || target != nil {
				t.Fatalf("refused with %d %q and a target %v", code, msg, target)
			}
			return
		}
		want := "/v1/patients/pat-alice/records"
		allowed := map[string]bool{}
		switch k {
		case relayList:
			allowed["page_size"], allowed["page_token"] = true, true
		case relayGet:
			want += "/" + record
			allowed["version"] = true
		case relayHistory:
			want += "/" + record + "/history"
		}
		if patient != "pat-alice" || target.Path != want || (k != relayList && strings.ContainsAny(record, "/?#%\\")) {
			t.Fatalf("passed on %q for patient %q record %q", target.Path, patient, record)
		}
		q, err := url.ParseQuery(target.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range q {
			if !allowed[k] || len(vs) != 1 {
				t.Fatalf("passed on %s=%v", k, vs)
			}
		}
	})
}
