#!/usr/bin/env bash
# The demo's story, as people would do it: the patient with the `patient`
# CLI, clinicians with the `clinician` CLI (records) and their systems asking
# the consent service through its HTTP/JSON gateway. Then the ledger-level
# story (hxdemo). Needs the exchange up (make up: the network, MinIO and the
# four services); make demo does that first. The services stay running.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${HX_CACHE:=$root/.cache}"
bin="$HX_CACHE/bin"
[ -x "$bin/hxdev" ] || { echo "demo: $bin/hxdev is missing; run make up" >&2; exit 1; }
# Where everything runs (the services' URLs, the CA, the state folder).
eval "$("$bin/hxdev" env)"
export HX_STATE
ca="$HX_CA"
http_addr="${HX_CONSENT_URL#https://}"

run=$(date +%s%N | tail -c 8)
pat="pat-$run"
dr="dr-alice-$run"
house="dr-house-$run"
key="$HX_STATE/demo-keys/$pat.json"
token() { "$bin/hxtoken" issue "$@"; }
pat_token="$(token -sub "$pat" -role patient)"
# Every actor belongs to one of the channel's organisations: Dr. Alice works
# at St Mary's, Dr. House at the Providers hospital, Phil at the pharmacy,
# Ines at the insurer.
dr_token="$(token -sub "$dr" -role clinician -org StMarysMSP)"
house_token="$(token -sub "$house" -role clinician -org ProvidersMSP)"
pharmacist="phil-$run"
pharmacist_token="$(token -sub "$pharmacist" -role pharmacist -org PharmacyMSP)"
insurer="ines-$run"
insurer_token="$(token -sub "$insurer" -role insurer -org InsurerMSP)"

export HX_TOKEN="$pat_token" HX_PATIENT_KEY="$key"
say() { printf '\n== %s\n' "$*"; }
patient() {
  printf '$ patient %s\n' "$*"
  "$bin/patient" "$@" --ca "$ca" | sed 's/^/  /'
}
# as_clinician TOKEN ARGS...: the clinician CLI, echoed, its output indented.
as_clinician() {
  local tok="$1"
  shift
  printf '$ clinician %s\n' "$*"
  HX_TOKEN="$tok" "$bin/clinician" "$@" --ca "$ca" 2>&1 | sed 's/^/  /'
  return "${PIPESTATUS[0]}"
}
# post_as TOKEN PATH JSON: a question to the decision service, as the
# records service (or a pharmacy's or insurer's system) would ask it.
post_as() {
  curl -fsS --cacert "$ca" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -X POST "https://$http_addr$2" -d "$3"
}
clinician() { post_as "$dr_token" "$@"; } # path json, as Dr. Alice
# authorize_as TOKEN WHO CATEGORY PURPOSE [BREAK-GLASS REASON]
authorize_as() {
  local body
  body=$(jq -nc --arg p "$pat" --arg c "$3" --arg u "$4" --arg bg "${5:-}" \
    '{action:"read", resource:{patientId:$p, category:$c}, purpose:$u, breakGlassReason:$bg}')
  printf '$ %s asks: read %s for %s%s\n' "$2" "$3" "$4" "${5:+ (break-glass: $5)}"
  post_as "$1" /v1/authorize "$body" |
    jq -r '.decision | "  " + (if .allow then "ALLOW" else "DENY" end) + ": " + (.reasons | join("; ")) +
      (if (.obligations | length) > 0 then "  [obligations: " + (.obligations | join(", ")) + "]" else "" end)'
}
authorize() { authorize_as "$dr_token" "$dr (St Mary's)" "$@"; } # category purpose [break-glass reason]

say "1. The patient makes a key on their own machine, and a recovery key kept apart, and registers them"
recovery_key="$HX_STATE/demo-keys/$pat-recovery.json"
patient keygen --id "$pat"
patient recovery keygen --recovery-key "$recovery_key"
patient register --recovery-key "$recovery_key"

say "2. The patient grants Dr. Alice labs and conditions, for treatment, for 30 days"
out=$("$bin/patient" grant --ca "$ca" --json --to "user:StMarysMSP/$dr" --categories labs,conditions --purposes treatment --for 720h)
consent=$(jq -r .consent.consentId <<<"$out")
jq -r '"$ patient grant --to user:StMarysMSP/'"$dr"' --categories labs,conditions --purposes treatment --for 720h\n  granted " + .consent.consentId + " until " + .consent.expiresAt' <<<"$out"

say "3. The patient lets the Providers hospital file and read their lab results and vitals"
patient grant --to org:ProvidersMSP --categories labs,vitals --purposes treatment --for 720h

say "4. Dr. House (Providers) uploads a lab result: validated, encrypted into MinIO, its hash notarized"
records="$HX_STATE/demo-records"
mkdir -p "$records"
lab="$records/hba1c-$run.json"
cat >"$lab" <<JSON
{
  "resourceType": "Observation",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]},
  "subject": {"reference": "Patient/$pat"},
  "effectiveDateTime": "2026-11-20T08:30:00Z",
  "valueQuantity": {"value": 6.10, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
}
JSON
out=$(HX_TOKEN="$house_token" "$bin/clinician" put --ca "$ca" --json --patient "$pat" --idempotency-key "demo-$run" "$lab")
record=$(jq -r .record.recordId <<<"$out")
jq -r '"$ clinician put --patient '"$pat"' '"$lab"'\n  stored " + .record.recordId + " version " + (.record.version|tostring) + ", sha256 " + .record.sha256 + ", notarized in tx " + .record.txId' <<<"$out"

say "5. Dr. Alice (St Mary's, consent to her alone) fetches it; the service checks it against the ledger"
as_clinician "$dr_token" get --patient "$pat" --out "$records/fetched-$run.json" "$record"
echo "  fetched: $(head -c 120 "$records/fetched-$run.json")..."

say "6. Anyone can check a copy against the notary, without a token: the original matches, an altered copy does not"
as_clinician "" verify "$lab"
sed 's/"value": 6.10/"value": 5.10/' "$lab" >"$records/altered-$run.json"
if as_clinician "" verify "$records/altered-$run.json"; then
  echo "demo: an altered copy verified" >&2
  exit 1
fi

say "7. The patient pairs a wearable; it streams a minute of readings, signed, encrypted into MinIO, anchored"
watch="watch-$run"
watch_key="$HX_STATE/demo-devices/$watch.json"
mkdir -p "$(dirname "$watch_key")"
printf '$ wearable keygen --device %s --patient %s --out %s\n' "$watch" "$pat" "$watch_key"
watch_pub=$("$bin/wearable" keygen --device "$watch" --patient "$pat" --out "$watch_key" --json | jq -r .publicKey)
echo "  public key: $watch_pub"
patient device pair --id "$watch" --public-key "$watch_pub"
printf '$ wearable stream --device-key %s --load --backlog 2m --readings 90 --batch 30\n' "$watch_key"
"$bin/wearable" stream --device-key "$watch_key" --load --backlog 2m --readings 90 --batch 30 | sed 's/^/  /'

say "8. Dr. House reads the last minutes of vitals, then proves one reading against the ledger himself"
as_clinician "$house_token" vitals --patient "$pat" --last 5m --kind heart-rate --limit 6
# The batch is anchored within the ingest service's anchoring period (1 s).
for _ in $(seq 1 50); do
  HX_TOKEN="$house_token" "$bin/clinician" proof --ca "$ca" --patient "$pat" --device "$watch" --seq 1 --index 0 >/dev/null 2>&1 && break
  sleep 0.2
done
as_clinician "$house_token" proof --patient "$pat" --device "$watch" --seq 1 --index 0

say "9. Dr. Alice's system asks the consent service before every read; a Dr. Alice of another hospital is someone else"
authorize labs treatment
authorize imaging treatment
authorize labs payment
# The consent names Dr. Alice at St Mary's: the same name at Providers is
# another person (and St Mary's identity provider cannot mint Providers
# people).
authorize conditions treatment
authorize_as "$(token -sub "$dr" -role clinician -org ProvidersMSP)" "$dr (of Providers: another person of the same name)" conditions treatment
# And the other way: the patient consents to Dr. House of Providers for his
# notes; a Dr. House of St Mary's is refused.
patient grant --to "user:ProvidersMSP/$house" --categories notes --purposes treatment --for 24h
authorize_as "$house_token" "$house (Providers)" notes treatment
authorize_as "$(token -sub "$house" -role clinician -org StMarysMSP)" "$house (of St Mary's: another person of the same name)" notes treatment

say "10. Emergency: Dr. Ross (St Mary's ER), without any consent, breaks the glass to read the lab result; the patient is told first"
er="dr-ross-$run"
er_token="$(token -sub "$er" -role clinician -org StMarysMSP)"
as_clinician "$er_token" get --patient "$pat" --break-glass "unresponsive on arrival, prior labs needed" --out "$records/er-$run.json" "$record"
echo "  fetched: $(head -c 80 "$records/er-$run.json")..."
patient notifications

say "11. Dr. Alice asks for imaging; the patient approves the request"
clinician /v1/access-requests "$(jq -nc --arg p "$pat" '{patientId:$p, categories:["imaging"], purposes:["treatment"], reason:"follow-up of the emergency visit"}')" |
  jq -r '"  request " + .request.requestId + " is " + .request.state'
patient requests --state pending
request=$("$bin/patient" requests --ca "$ca" --json --state pending | jq -r '.requests[0].requestId')
patient approve "$request" --for 168h
authorize imaging treatment

say "12. The pharmacy fills a prescription once; the insurer reads claims only, and checks a claim without reading records"
# as_partner CLI TOKEN ARGS...: the pharmacist's or insurer's CLI, echoed,
# its output indented; its exit code is kept.
as_partner() {
  local cli="$1" tok="$2"
  shift 2
  printf '$ %s %s\n' "$cli" "$*"
  HX_TOKEN="$tok" "$bin/$cli" "$@" --ca "$ca" 2>&1 | sed 's/^/  /'
  return "${PIPESTATUS[0]}"
}
patient grant --to org:ProvidersMSP --categories prescriptions,claims,immunizations --purposes treatment --for 720h
rx="$records/rx-$run.json"
cat >"$rx" <<JSON
{"resourceType": "MedicationRequest", "status": "active", "intent": "order",
 "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "861007", "display": "metformin 500 MG Oral Tablet"}]},
 "subject": {"reference": "Patient/$pat"}, "authoredOn": "$(date -u +%Y-%m-%d)",
 "dispenseRequest": {"validityPeriod": {"end": "$(date -u -d '+90 days' +%Y-%m-%d)"}, "numberOfRepeatsAllowed": 0,
   "quantity": {"value": 60, "unit": "tablet"}}}
JSON
echo "\$ clinician put --patient $pat $rx  (Dr. House prescribes metformin, no repeat)"
rx_record=$(HX_TOKEN="$house_token" "$bin/clinician" put --ca "$ca" --json --patient "$pat" "$rx" 2>/dev/null | jq -r .record.recordId)
echo "  stored $rx_record: its fill terms (1 fill, until $(date -u -d '+91 days' +%Y-%m-%d)) notarized with it"
if as_partner pharmacist "$pharmacist_token" verify --prescription "$rx" --record "$rx_record"; then
  echo "demo: the pharmacy checked a prescription without the patient's consent" >&2
  exit 1
fi
patient grant --to org:PharmacyMSP --categories prescriptions --purposes dispensing --for 720h
as_partner pharmacist "$pharmacist_token" verify --prescription "$rx" --record "$rx_record"
as_partner pharmacist "$pharmacist_token" dispense --prescription "$rx" --record "$rx_record" --quantity 60
if as_partner pharmacist "$pharmacist_token" dispense --prescription "$rx" --record "$rx_record" --quantity 60; then
  echo "demo: a prescription was filled twice" >&2
  exit 1
fi
claim="$records/claim-$run.json"
cat >"$claim" <<JSON
{"resourceType": "Claim", "status": "active", "use": "claim",
 "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "pharmacy"}]},
 "patient": {"reference": "Patient/$pat"}, "created": "$(date -u +%Y-%m-%d)",
 "provider": {"display": "Providers General Hospital"}, "priority": {"coding": [{"code": "normal"}]},
 "insurance": [{"sequence": 1, "focal": true, "coverage": {"display": "Northern Health Insurance"}}],
 "total": {"value": 42.50, "currency": "EUR"}}
JSON
echo "\$ clinician put --patient $pat $claim  (the hospital files the claim)"
HX_TOKEN="$house_token" "$bin/clinician" put --ca "$ca" --json --patient "$pat" "$claim" 2>/dev/null | jq -r '"  stored " + .record.recordId + " (claims)"'
patient grant --to org:InsurerMSP --categories claims,labs --purposes payment --for 720h
authorize_as "$insurer_token" "$insurer (Insurer)" claims payment
authorize_as "$insurer_token" "$insurer (Insurer, though the consent names labs)" labs payment
as_partner insurer "" verify --claim "$claim" --document "$rx"
sed 's/"value": 42.50/"value": 142.50/' "$claim" >"$records/claim-altered-$run.json"
if as_partner insurer "" verify --claim "$records/claim-altered-$run.json"; then
  echo "demo: an altered claim verified" >&2
  exit 1
fi

say "13. The patient revokes Dr. Alice's consent; her next fetch of the lab result is denied"
patient revoke "$consent"
authorize labs treatment
if as_clinician "$dr_token" get --patient "$pat" "$record"; then
  echo "demo: the fetch after the revoke was allowed" >&2
  exit 1
fi

say "14. The patient reads who accessed their data (allowed and denied; written to the ledger in batches)"
# The decisions above reach the ledger in the next batch: the records
# service's put and get, the vitals read, the proof (at least once), ten
# asked directly, the break-glass fetch, the prescription's and the claim's
# filing, the pharmacy's check and fills, two by the insurer, and the denied
# fetch.
want=20
for _ in $(seq 1 150); do
  n=$("$bin/patient" access-log --ca "$ca" --json | jq '.events | length')
  [ "$n" -ge "$want" ] && break
  sleep 0.2
done
[ "$n" -ge "$want" ] || { echo "demo: only $n of $want access events reached the ledger within 30 s" >&2; exit 1; }
patient access-log
patient consents

say "15. On the ledger: notarized records, wearable anchors, research releases, forgeries refused"
"$bin/hxdemo"

say "16. Five more patients: Dr. House files their demographics and an HbA1c; four consent to research, one does not"
study="study-diabetes-$run"
# volunteer N BIRTH SEX ZIP HBA1C RESEARCH-GRANTEE ("" for none)
volunteer() {
  local id="vol$1-$run" vkey="$HX_STATE/demo-keys/vol$1-$run.json" vtok
  vtok="$(token -sub "$id" -role patient)"
  HX_TOKEN="$vtok" HX_PATIENT_KEY="$vkey" "$bin/patient" keygen --ca "$ca" --id "$id" >/dev/null
  HX_TOKEN="$vtok" HX_PATIENT_KEY="$vkey" "$bin/patient" register --ca "$ca" >/dev/null
  HX_TOKEN="$vtok" HX_PATIENT_KEY="$vkey" "$bin/patient" grant --ca "$ca" --to org:ProvidersMSP \
    --categories demographics,labs --purposes treatment --for 720h >/dev/null
  if [ -n "$6" ]; then
    HX_TOKEN="$vtok" HX_PATIENT_KEY="$vkey" "$bin/patient" grant --ca "$ca" --json --to "$6" \
      --categories demographics,labs --purposes research --for 720h | jq -r .consent.consentId >"$records/vol$1.consent"
  fi
  cat >"$records/vol$1-patient.json" <<JSON
{"resourceType": "Patient", "id": "$id", "name": [{"family": "Volunteer$1", "given": ["Demo"]}], "telecom": [{"system": "phone", "value": "555-010-000$1"}],
 "gender": "$3", "birthDate": "$2", "address": [{"line": ["$1 Main Street"], "city": "Boston", "postalCode": "$4"}]}
JSON
  cat >"$records/vol$1-lab.json" <<JSON
{"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/$id"},
 "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]}, "effectiveDateTime": "2026-0$1-15T09:00:00Z",
 "valueQuantity": {"value": $5, "unit": "%"}, "note": [{"text": "Patient Volunteer$1 reports feeling well"}]}
JSON
  HX_TOKEN="$house_token" "$bin/clinician" put --ca "$ca" --patient "$id" --idempotency-key "demo-$id-1" "$records/vol$1-patient.json" >/dev/null
  HX_TOKEN="$house_token" "$bin/clinician" put --ca "$ca" --patient "$id" --idempotency-key "demo-$id-2" "$records/vol$1-lab.json" >/dev/null
  printf '  %s: born %s, %s, ZIP %s, HbA1c %s%%; research consent: %s\n' "$id" "$2" "$3" "$4" "$5" "${6:-none}"
}
volunteer 1 1958-03-02 female 02139 6.1 org:ResearchMSP
volunteer 2 1961-07-19 female 02141 5.7 "study:$study"
volunteer 3 1935-01-30 male 02138 7.2 org:ResearchMSP
volunteer 4 1933-11-11 male 02139 6.8 "study:$study"
volunteer 5 1970-05-05 female 02140 5.4 ""

say "17. Dr. Ross breaks the glass for four more patients; past the daily limit (5 patients) the next is refused"
for v in 1 2 3 4 5; do
  body=$(jq -nc --arg p "vol$v-$run" '{action:"read", resource:{patientId:$p, category:"labs"}, purpose:"emergency",
    breakGlassReason:"multi-car accident, triage"}')
  printf '$ %s breaks the glass for vol%s-%s: ' "$er" "$v" "$run"
  post_as "$er_token" /v1/authorize "$body" | jq -r '.decision | (if .allow then "ALLOW" else "DENY" end) + ": " + (.reasons | join("; "))'
done

say "18. A researcher of $study exports labs with age band, sex and ZIP3, k=2"
res_token="$(token -sub "res-carol-$run" -role researcher -org ResearchMSP -study "$study")"
as_researcher() {
  printf '$ researcher %s\n' "$*"
  HX_TOKEN="$res_token" "$bin/researcher" "$@" --ca "$ca" 2>&1 | sed 's/^/  /'
  return "${PIPESTATUS[0]}"
}
export_labs() {
  HX_TOKEN="$res_token" "$bin/researcher" create --ca "$ca" --json --study "$study" --categories labs \
    --fields age_band,sex,zip3,code,value,unit,date --from 2026-01-01T00:00:00Z --to 2026-12-31T00:00:00Z --k 2 |
    jq -r .dataset.datasetId
}
ds1=$(export_labs)
as_researcher wait "$ds1"
as_researcher download "$ds1" --file csv --out "$records/$ds1.csv"
sed 's/^/  | /' "$records/$ds1.csv"
if grep -Eq "Volunteer|555-010|Main Street|vol[0-9]-$run|1958|1933" "$records/$ds1.csv"; then
  echo "demo: the dataset holds a direct identifier" >&2
  exit 1
fi
echo "  no name, phone, street, patient id or birth date in the file; the clinician's note is not there either"

say "19. Volunteer 1 revokes their research consent; the released file stays as it was, the next export leaves them out"
HX_TOKEN="$(token -sub "vol1-$run" -role patient)" HX_PATIENT_KEY="$HX_STATE/demo-keys/vol1-$run.json" \
  "$bin/patient" revoke --ca "$ca" "$(cat "$records/vol1.consent")" | sed 's/^/  /'
ds2=$(export_labs)
as_researcher wait "$ds2"
cohort1=$(HX_TOKEN="$res_token" "$bin/researcher" status --ca "$ca" --json "$ds1" | jq .manifest.cohortSize)
cohort2=$(HX_TOKEN="$res_token" "$bin/researcher" status --ca "$ca" --json "$ds2" | jq .manifest.cohortSize)
echo "  cohort before the revoke: $cohort1 patients; after: $cohort2"
[ "$cohort2" -eq $((cohort1 - 1)) ] || { echo "demo: the revoke did not exclude the patient" >&2; exit 1; }
as_researcher list

say "20. The patient's phone is stolen: they replace their key from their laptop; the thief's copy signs nothing"
stolen="$HX_STATE/demo-keys/$pat-stolen.json"
cp "$key" "$stolen"
patient key rotate
printf '$ patient grant --key %s --to user:thief ...   (the thief, with the old key)\n' "$stolen"
if HX_PATIENT_KEY="$stolen" "$bin/patient" grant --ca "$ca" --to "user:InsurerMSP/thief-$run" --categories labs --purposes treatment 2>&1 | sed 's/^/  /'; then
  echo "demo: the stolen key still signs" >&2
  exit 1
fi
patient grant --to "user:StMarysMSP/$dr" --categories labs --purposes treatment --for 24h
patient key history

say "21. FHIR R4: Dr. Alice's app reads the patient's labs as filed; the patient reads who accessed their data as AuditEvents"
fhir="${HX_RECORDS_URL%%,*}/fhir/r4"
printf '$ curl %s/metadata\n' "$fhir"
curl -fsS --cacert "$ca" "$fhir/metadata" |
  jq -r '"  CapabilityStatement: FHIR " + .fhirVersion + ": " + ([.rest[0].resource[].type] | join(", "))'
# Dr. Alice's app holds a SMART token limited to lab Observations; her
# consent (granted again in step 20) covers labs.
app_token="$(token -sub "$dr" -role clinician -org StMarysMSP -scope 'user/Observation.rs?category=laboratory')"
printf '$ curl -H "Authorization: Bearer $APP (scope user/Observation.rs?category=laboratory)" "%s/Observation?patient=%s&category=laboratory"\n' "$fhir" "$pat"
labs=$(curl -fsS --cacert "$ca" -H "Authorization: Bearer $app_token" "$fhir/Observation?patient=$pat&category=laboratory")
jq -r '"  searchset, total " + (.total|tostring) + ":", (.entry[].resource | "  Observation/" + .id + " version " + .meta.versionId + ": " + .code.coding[0].display)' <<<"$labs"
grep -o '"valueQuantity":{"value":[^,]*' <<<"$labs" | sed 's/^/  as filed: /'
grep -q '"value":6.10' <<<"$labs" || { echo "demo: the lab result did not come back as filed (6.10)" >&2; exit 1; }
# Another app of hers, limited to conditions, asks for the same lab result:
# her consent would allow it, the app's scope does not, and the answer says so.
cond_app="$(token -sub "$dr" -role clinician -org StMarysMSP -scope 'user/Condition.rs')"
printf '$ curl -H "Authorization: Bearer $APP2 (scope user/Condition.rs)" "%s/Observation/%s"\n' "$fhir" "$record"
curl -sS --cacert "$ca" -H "Authorization: Bearer $cond_app" "$fhir/Observation/$record" |
  jq -r '"  " + .issue[0].code + ": " + (.issue[0].details.text // .issue[0].diagnostics)'
# Dr. House (Providers, consent to vitals) reads the wearable's heart rates
# of step 7 as vital-signs Observations.
since=$(date -u -d '-15 min' +%Y-%m-%dT%H:%M:%SZ) until=$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)
printf '$ curl -H "Authorization: Bearer $DR_HOUSE" "%s/Observation?patient=%s&category=vital-signs&code=http://loinc.org|8867-4&date=ge%s&date=lt%s&_count=3"\n' "$fhir" "$pat" "$since" "$until"
vitals=$(curl -fsS --cacert "$ca" -H "Authorization: Bearer $house_token" "$fhir/Observation?patient=$pat&category=vital-signs&code=http://loinc.org%7C8867-4&date=ge$since&date=lt$until&_count=3")
jq -r '"  searchset, total " + (.total|tostring) + ":", ((.entry // [])[].resource | "  " + .effectiveDateTime[0:19] + "  " + .code.text + " " + (.valueQuantity.value|tostring) + " " + .valueQuantity.unit + "  (" + .identifier[0].value + ")")' <<<"$vitals"
[ "$(jq .total <<<"$vitals")" -gt 0 ] || { echo "demo: no wearable reading as an Observation" >&2; exit 1; }
printf '$ curl -H "Authorization: Bearer $PATIENT" "%s/AuditEvent?_count=8"\n' "$fhir"
curl -fsS --cacert "$ca" -H "Authorization: Bearer $pat_token" "$fhir/AuditEvent?_count=8" |
  jq -r '"  AuditEvents (IHE BALP), newest first, total " + (.total|tostring) + ":",
    (.entry[].resource | "  " + .recorded[0:19] + "  " + (.agent[0].who.display // .agent[0].who.identifier.value) + "  " + .subtype[0].code + " " +
      ([.entity[] | select(.what.identifier.system == "urn:healthexchange:category" or .what.identifier.system == "urn:healthexchange:record") | .what.identifier.value][0] // "") +
      "  " + (if .outcome == "0" then "allowed" else "DENIED (" + .outcomeDesc + ")" end) +
      (if ([.purposeOfEvent[]?.coding[0].code] | index("BTG")) then "  BREAK-GLASS" else "" end) +
      "  tx " + ([.entity[] | select(.what.identifier.system == "urn:healthexchange:ledger-transaction") | .what.identifier.value][0] // "")[0:12])'

say "22. A vaccination card anyone can check: the patient asks for a SMART Health Card; a verifier with no account checks it"
flu="$records/flu-$run.json"
cat >"$flu" <<JSON
{"resourceType": "Immunization", "status": "completed",
 "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "150", "display": "Influenza, injectable, quadrivalent"}]},
 "patient": {"reference": "Patient/$pat"}, "occurrenceDateTime": "$(date -u +%Y-%m-%d)", "lotNumber": "FLU-$run",
 "note": [{"text": "no reaction after 15 minutes"}]}
JSON
echo "\$ clinician put --patient $pat $flu  (Dr. House records a flu shot)"
flu_record=$(HX_TOKEN="$house_token" "$bin/clinician" put --ca "$ca" --json --patient "$pat" "$flu" 2>/dev/null | jq -r .record.recordId)
echo "  stored $flu_record (immunizations)"
card="$records/flu-$run.smart-health-card"
patient card --record "$flu_record" --out "$card" | cut -c1-160
printf '$ verifier check %s   (no account, no token)\n' "$card"
"$bin/verifier" check --ca "$ca" "$card" | sed 's/^/  /'
grep -q "no reaction" <(jq -r '.verifiableCredential[0]' "$card") && { echo "demo: the card holds the note" >&2; exit 1; }
# A forged card: its signature altered (the hospital's signature over
# other bytes, as a changed card would have).
forged=$(jq -r '.verifiableCredential[0]' "$card" | awk -F. '{s = $3; print $1 "." $2 "." (substr(s, 1, 4) == "AAAA" ? "BBBB" : "AAAA") substr(s, 5)}')
printf '$ verifier check <the card with its signature altered>\n'
if "$bin/verifier" check --ca "$ca" "$forged" | sed 's/^/  /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
  echo "demo: a forged card was valid" >&2
  exit 1
fi
echo "\$ clinician put --patient $pat --record $flu_record $flu  (Dr. House corrects the lot number: version 2)"
sed "s/FLU-$run/FLU-$run-B/" "$flu" >"$flu.v2"
HX_TOKEN="$house_token" "$bin/clinician" put --ca "$ca" --json --patient "$pat" --record "$flu_record" "$flu.v2" 2>/dev/null | jq -r '"  version " + (.record.version|tostring)'
printf '$ verifier check %s   (the card of version 1)\n' "$card"
if "$bin/verifier" check --ca "$ca" "$card" | sed 's/^/  /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
  echo "demo: a card of a superseded record was valid" >&2
  exit 1
fi

say "23. A parent acts for a child: the child's key lets Mum grant and revoke until majority; Mum's own key signs; the child ends it"
kid="kid-$run" mum="mum-$run"
kid_token="$(token -sub "$kid" -role patient)" mum_token="$(token -sub "$mum" -role patient)"
kid_key="$HX_STATE/demo-keys/$kid.json" mum_key="$HX_STATE/demo-keys/$mum.json"
as_person() { # WHO TOKEN KEY ARGS...: the patient CLI as someone else, echoed
  local who="$1" tok="$2" k="$3"
  shift 3
  printf '$ patient %s   (as %s)\n' "$*" "$who"
  "$bin/patient" "$@" --ca "$ca" --token "$tok" --key "$k" 2>&1 | sed 's/^/  /'
  return "${PIPESTATUS[0]}"
}
"$bin/patient" keygen --ca "$ca" --token "$kid_token" --key "$kid_key" --id "$kid" >/dev/null
"$bin/patient" register --ca "$ca" --token "$kid_token" --key "$kid_key" >/dev/null
echo "  ($kid, old enough for a key of their own, registered it; step 24 shows a newborn, who has none)"
mum_pub=$("$bin/patient" keygen --ca "$ca" --json --key "$mum_key" --id "$mum" | jq -r .publicKey)
echo "\$ patient keygen --id $mum   (as $mum, on her phone)"
echo "  public key: $mum_pub"
majority="$(date -u -d '+16 years' +%Y-%m-%d)T00:00:00Z"
out=$("$bin/patient" delegate --ca "$ca" --json --token "$kid_token" --key "$kid_key" --to "$mum" --delegate-key "$mum_pub" \
  --relationship parent --powers grant,revoke,read --until "$majority")
delegation=$(jq -r .delegation.delegationId <<<"$out")
echo "\$ patient delegate --to $mum --delegate-key <her key> --relationship parent --powers grant,revoke,read --until $majority   (as $kid)"
jq -r '"  delegated: " + .delegation.delegationId + " to " + .delegation.delegateId + " (" + .delegation.relationship + "), may " + (.delegation.powers | join(",")) + ", until " + .delegation.expiresAt' <<<"$out"
as_person "$mum" "$mum_token" "$mum_key" grant --for-patient "$kid" --delegation "$delegation" \
  --to "user:ProvidersMSP/$house" --categories immunizations --purposes treatment --for 720h
as_person "$kid" "$kid_token" "$kid_key" consents
# kid_reads TOKEN WHO: the decision point asked about a read of the kid's
# immunizations, as the records service asks it.
kid_reads() {
  printf '$ %s asks: read %s'"'"'s immunizations\n' "$2" "$kid"
  post_as "$1" /v1/authorize "$(jq -nc --arg p "$kid" '{action:"read", resource:{patientId:$p, category:"immunizations"}, purpose:"treatment"}')" |
    jq -r '.decision | "  " + (if .allow then "ALLOW" else "DENY" end) + ": " + (.reasons | join("; "))'
}
kid_reads "$mum_token" "$mum (delegate)"
kid_reads "$(token -sub "stranger-$run" -role patient)" "stranger-$run"
as_person "$kid" "$kid_token" "$kid_key" undelegate "$delegation"
kid_reads "$mum_token" "$mum (after the end)"
if as_person "$mum" "$mum_token" "$mum_key" grant --for-patient "$kid" --delegation "$delegation" \
  --to "user:ProvidersMSP/$house" --categories labs --purposes treatment --for 720h; then
  echo "demo: a delegate acted after the delegation ended" >&2
  exit 1
fi

say "24. St Mary's registers a newborn with the father's signature: no key for the child, the father acts until majority; then the child's own key"
baby="baby-$run" dad="dad-$run"
baby_token="$(token -sub "$baby" -role patient)" dad_token="$(token -sub "$dad" -role patient)"
baby_key="$HX_STATE/demo-keys/$baby.json" dad_key="$HX_STATE/demo-keys/$dad.json"
ward_token="$(token -sub "dr-ward-$run" -role clinician -org StMarysMSP)"
"$bin/patient" keygen --ca "$ca" --key "$dad_key" --id "$dad" >/dev/null
# Majority is a date up to 18 years away; the demo sets it 10 seconds ahead
# to show the take-over.
majority=$(date -u -d '+10 seconds' +%Y-%m-%dT%H:%M:%SZ)
registration="$records/register-$baby.json" claim="$records/claim-$baby.json"
as_person "$dad" "$dad_token" "$dad_key" register-child --child "$baby" --majority "$majority" --powers grant,revoke,read --out "$registration"
as_clinician "$ward_token" register-minor "$registration"
baby_delegation=$(jq -r .payload "$registration" | jq -r .delegationId)
as_person "$dad" "$dad_token" "$dad_key" grant --for-patient "$baby" --delegation "$baby_delegation" \
  --to "user:ProvidersMSP/$house" --categories immunizations --purposes treatment --for 720h
"$bin/patient" keygen --ca "$ca" --key "$baby_key" --id "$baby" >/dev/null
echo "  (whoever holds a key for $baby's id signs nothing as $baby while the entry has no key:)"
if as_person "$baby" "$baby_token" "$baby_key" grant --to "user:ProvidersMSP/$house" --categories labs --purposes treatment --for 24h; then
  echo "demo: a change signed as a child without a key was accepted" >&2
  exit 1
fi
as_person "$baby" "$baby_token" "$baby_key" claim --out "$claim"
sleep "$(($(date -d "$majority" +%s) - $(date +%s) + 1))" 2>/dev/null || true
echo "  (it is $majority: $baby comes of age)"
echo "  (first a clinician of Providers, which did not register $baby, then one of St Mary's:)"
if as_clinician "$(token -sub "dr-who-$run" -role clinician -org ProvidersMSP)" claim-key "$claim"; then
  echo "demo: a hospital that did not register the child attested the claim" >&2
  exit 1
fi
as_clinician "$ward_token" claim-key "$claim"
printf '$ %s asks: read %s'"'"'s immunizations\n' "$dad" "$baby"
post_as "$dad_token" /v1/authorize "$(jq -nc --arg p "$baby" '{action:"read", resource:{patientId:$p, category:"immunizations"}, purpose:"treatment"}')" |
  jq -r '.decision | "  " + (if .allow then "ALLOW" else "DENY" end) + ": " + (.reasons | join("; "))'
as_person "$baby" "$baby_token" "$baby_key" key history

say "25. The patient's web app: the same exchange in a browser, the key made and kept in the browser"
echo "  open https://$http_addr/app/"
echo "  (its certificate is from the development CA, $ca: trust it in the browser, or accept the warning)"
echo "  to set up a device you need a one-time sign-in from the patients' identity provider, here:"
echo "    $bin/hxtoken issue -sub YOUR_PATIENT_ID -role patient"
echo "  its pages: who may see what, who looked, your records (each checked in the browser against the ledger),"
echo "  requests, devices, research, notifications; a recovery key made at setup replaces a lost device's key"
