// A FHIR client from outside the project (fhir-kit-client, from the npm
// registry) talks to the records service's FHIR API; the Go test that runs
// it (fhir_integration_test.go) asserts on what this prints: one JSON object
// of what each interaction returned.
//
// Environment: FHIR_BASE (https://host:port/fhir/r4), FHIR_TOKEN (a
// clinician's bearer token), FHIR_PATIENT (the patient id), and
// NODE_EXTRA_CA_CERTS (the services' CA) for TLS.
import { Client } from 'fhir-kit-client';

const client = new Client({ baseUrl: process.env.FHIR_BASE, bearerToken: process.env.FHIR_TOKEN });
const patient = process.env.FHIR_PATIENT;
const out = {};

function lab(marker, value) {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }], text: marker },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2026-11-20T08:30:00Z',
    valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
  };
}

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (err) {
    return err.response ? err.response.status : String(err);
  }
}

const cs = await client.capabilityStatement();
out.capability = { fhirVersion: cs.fhirVersion, types: cs.rest[0].resource.map((r) => r.type) };

const created = [];
for (const [i, v] of [5.4, 6.1, 7.2].entries()) {
  const r = await client.create({ resourceType: 'Observation', body: lab(`fkc-${i}`, v) });
  created.push(r.id);
}
out.created = created;

const read = await client.read({ resourceType: 'Observation', id: created[0] });
out.read = { id: read.id, versionId: read.meta.versionId, text: read.code.text, value: read.valueQuantity.value };

const ids = [];
let pages = 0;
let bundle = await client.search({ resourceType: 'Observation', searchParams: { patient, code: 'http://loinc.org|2339-0', _count: 2 } });
out.searchTotal = bundle.total;
while (bundle) {
  pages++;
  for (const e of bundle.entry || []) ids.push(e.resource.id);
  bundle = await client.nextPage({ bundle });
}
out.searchIds = ids;
out.searchPages = pages;

const updatedBody = { ...read, valueQuantity: { ...read.valueQuantity, value: 5.5 } };
const updated = await client.update({
  resourceType: 'Observation', id: read.id, body: updatedBody, options: { headers: { 'If-Match': `W/"${read.meta.versionId}"` } },
});
out.updated = { versionId: updated.meta.versionId, value: updated.valueQuantity.value };
out.staleUpdate = await status(client.update({
  resourceType: 'Observation', id: read.id, body: updatedBody, options: { headers: { 'If-Match': 'W/"1"' } },
}));
out.updateWithoutIfMatch = await status(client.update({ resourceType: 'Observation', id: read.id, body: updatedBody }));

const history = await client.resourceHistory({ resourceType: 'Observation', id: read.id });
out.history = { total: history.total, versions: history.entry.map((e) => e.resource.meta.versionId) };
const v1 = await client.vread({ resourceType: 'Observation', id: read.id, version: '1' });
out.vread1 = { value: v1.valueQuantity.value };

out.unknownRead = await status(client.read({ resourceType: 'Observation', id: 'rec-doesnotexist' }));

console.log(JSON.stringify(out));
