// The patient's web app: set up this device's key, sign in with it, see and
// change who may see what, and see who looked. The session token is kept in
// this module's memory only (never in storage): a reload or 15 minutes
// ends the session, and no other site can make the page send it.

import * as backup from "./backup.js";
import * as keys from "./keystore.js";
import * as recovery from "./recovery.js";
import { consentGrant, consentRevocation, deviceRegistration, deviceRevocation, publicKeyOf, recoveryCancel, recoveryRequest, registration, sign, timeRFC3339 } from "./sign.js";

const $ = (id) => document.getElementById(id);
const session = { token: "", patientId: "", expiresAt: 0, timer: 0 };
let vocabulary = { organisations: [], categories: [], purposes: [] };

// ---------------------------------------------------------------- words --

const categoryWords = {
  demographics: "Your personal details", conditions: "Diagnoses and conditions", medications: "Medications",
  prescriptions: "Prescriptions", allergies: "Allergies", immunizations: "Vaccinations", labs: "Lab results",
  imaging: "Scans and X-rays", notes: "Clinical notes", vitals: "Vital signs and wearables", claims: "Insurance claims",
};
const purposeWords = {
  treatment: "Your care", payment: "Paying for your care", operations: "Running the service", research: "Research",
  emergency: "Emergencies", "public-health": "Public health", dispensing: "Dispensing your prescriptions",
};
const words = (table, v) => table[v] || v;

// said turns an answer of the service into words a patient understands.
function said(status, message) {
  if (status === 0) return "The exchange cannot be reached. Check your connection and try again.";
  if (/does not match a registered key/.test(message)) return "This device's key is not the one on the ledger for this patient: it may have been replaced, or its replacement stopped. Sign in on the device that holds your key.";
  if (status === 401) return "Your session has ended. Sign in again.";
  if (status === 429) return "Too many attempts. Wait a minute and try again.";
  if (status === 503) return "The exchange cannot confirm this right now. Nothing was changed; try again in a moment.";
  const waits = /recovered key takes effect at (\S+):/.exec(message);
  if (waits) return "Your new key takes effect on " + new Date(waits[1]).toLocaleString() + ". Sign in here then. Until then your old key can stop the change.";
  if (/no key of their own/.test(message)) return "This account has no key of its own yet: your guardian acts for you until you claim it at the hospital.";
  if (/already registered/.test(message)) return "This patient id is registered already. Sign in on the device that holds its key.";
  if (/signature/.test(message)) return "Your key's signature was not accepted. Sign in again on the device that holds your key.";
  if (status === 403) return "This is not allowed: " + message;
  if (status === 400) return "Something in the form is not right: " + message;
  return "Something went wrong (" + status + "). Nothing was changed.";
}

class Refused extends Error {
  constructor(status, message, code = 0) {
    super(said(status, message));
    this.status = status;
    this.raw = message; // the service's own words, for the page's logic
    this.code = code; // the gRPC status code, when the service gave one
  }
}

// ------------------------------------------------------------------ api --

async function call(method, path, body, token = session.token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store" });
  } catch {
    throw new Refused(0, "");
  }
  const text = await res.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {}; }
  if (!res.ok) {
    if (res.status === 401 && token && token !== session.token) {
      // A one-time sign-in typed into a form (setting up, recovering).
      throw new Said("The one-time sign-in from your identity provider was not accepted (it may have expired): get a new one and try again.");
    }
    if (res.status === 401 && token) endSession("Your session has ended. Sign in again.");
    throw new Refused(res.status, data.message || "", Number(data.code) || 0);
  }
  return data;
}

function status(text) {
  $("status").textContent = text;
  $("error").textContent = "";
}

// Said is an error whose message is already in a patient's words.
class Said extends Error {}

function failed(err) {
  $("status").textContent = "";
  $("error").textContent = err instanceof Refused || err instanceof Said ? err.message : "Something went wrong in this page: " + err.message;
}

// ------------------------------------------------------------- sessions --

async function signIn(patientId) {
  const entry = await keys.load(patientId);
  if (!entry) throw new Error("this device holds no key for " + patientId);
  const challenge = await call("POST", "/app/api/challenge", { patientId }, "");
  const signature = await sign(crypto.subtle, entry.privateKey, challenge.payload);
  const s = await call("POST", "/app/api/session", { payload: challenge.payload, signature }, "");
  session.token = s.token;
  session.patientId = patientId;
  session.expiresAt = Date.parse(s.expiresAt);
  clearTimeout(session.timer);
  session.timer = setTimeout(() => endSession("Your session has ended after 15 minutes. Sign in again."), Math.max(0, session.expiresAt - Date.now()));
}

function endSession(why) {
  stopLive();
  const link = $("backup-link");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.removeAttribute("download");
  link.href = "#consents";
  $("backup-ready").hidden = true;
  const rlink = $("recovery-link");
  if (rlink.href.startsWith("blob:")) URL.revokeObjectURL(rlink.href);
  rlink.removeAttribute("download");
  rlink.href = "#consents";
  $("recovery-ready").hidden = true;
  $("recovery-alert").hidden = true;
  session.token = "";
  session.patientId = "";
  clearTimeout(session.timer);
  show("welcome");
  if (why) $("error").textContent = why;
}

// submit signs the payload make(nonce) builds with this device's key and
// has send post it. The nonce is one above both the ledger's last and this
// device's, saved before it is used; when another device holding the same
// key took that nonce meanwhile, the change is signed once more above it.
async function submit(make, send) {
  for (let attempt = 0; ; attempt++) {
    const me = await call("GET", "/v1/patients/me");
    const entry = await keys.load(session.patientId);
    const nonce = Math.max(Number(me.patient.nonce || 0), entry.nonce || 0) + 1;
    await keys.setNonce(session.patientId, nonce);
    const payload = make(nonce);
    const signed = { payload, signature: await sign(crypto.subtle, entry.privateKey, payload) };
    try {
      return await send(signed);
    } catch (err) {
      if (attempt > 0 || !(err instanceof Refused) || !/stale or replayed nonce/.test(err.raw)) throw err;
    }
  }
}

// ID is what the ledger takes as an id (ledgerapi.ValidateID).
const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

// inDays is the RFC 3339 time n days from now.
const inDays = (n) => timeRFC3339(new Date(Date.now() + n * 86400000));

// --------------------------------------------------------------- pages --

const pages = ["welcome", "consents", "access-log", "records", "requests", "devices", "research", "notifications"];

function show(page) {
  stopLive();
  const signedIn = session.token !== "";
  if (!signedIn) page = "welcome";
  for (const p of pages) $("page-" + p).hidden = p !== page;
  $("nav").hidden = !signedIn;
  $("who").hidden = !signedIn;
  $("who").textContent = signedIn ? "Signed in as " + session.patientId : "";
  for (const p of pages.slice(1)) {
    const link = $("nav-" + p);
    if (p === page) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (page === "welcome") return renderWelcome();
  // What another visit showed is not shown again until it is read anew.
  const list = { consents: "consent-list", "access-log": "log-list", records: "record-list", requests: "request-list",
    devices: "device-list", research: "study-list", notifications: "notification-list" }[page];
  $(list).replaceChildren(...(page === "notifications" ? [] : [el("p", { class: "empty" }, "Loading…")]));
  checkRecovery().catch(failed);
  if (page === "consents") return renderConsents().catch(failed);
  if (page === "access-log") return renderLog().catch(failed);
  if (page === "records") return renderRecords().catch(failed);
  if (page === "requests") return renderRequests().catch(failed);
  if (page === "devices") return renderDevices().catch(failed);
  if (page === "research") return renderResearch().catch(failed);
  if (page === "notifications") return renderNotifications().catch(failed);
}

function route() {
  const page = location.hash.replace(/^#/, "") || "consents";
  show(pages.includes(page) ? page : "consents");
  $("main").focus();
}

async function renderWelcome() {
  const entry = await keys.first().catch(() => undefined);
  $("signin-known").hidden = !entry;
  if (entry) $("known-id").textContent = entry.patientId;
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

// orgName is an organisation's name, or its MSP id when it is not one of the channel's.
const orgName = (mspId) => (vocabulary.organisations.find((o) => o.mspId === mspId) || { name: mspId }).name;

// actorWords is who an event names: the person, and their organisation.
const actorWords = (actor, org) => (actor || "") + (org ? " (" + orgName(org) + ")" : "");

function granteeWords(g) {
  if (g.kind === "org") return "Everyone at " + orgName(g.id);
  if (g.kind === "study") return "Research study " + g.id;
  const [mspId, user] = g.id.split("/");
  return user + " at " + orgName(mspId);
}

const day = (t) => (t ? new Date(t).toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" }) : "");

async function renderConsents() {
  const list = $("consent-list");
  const data = await call("GET", "/v1/consents?pageSize=100");
  const consents = data.consents || [];
  list.replaceChildren();
  const active = consents.filter((c) => c.status === "active");
  if (active.length === 0) {
    list.append(el("p", { class: "empty" }, "Nobody has access to your records through a consent."));
  }
  const ul = el("ul", { class: "cards" });
  for (const c of active) {
    const revoke = button({ class: "revoke", "data-consent": c.consentId }, "Take back", "Take back the access of " + granteeWords(c.grantee),
      () => confirmRevoke(c));
    ul.append(el("li", { class: "card", "data-consent": c.consentId },
      el("h3", {}, granteeWords(c.grantee)),
      el("p", {}, "May see: " + c.categories.map((x) => words(categoryWords, x)).join(", ")),
      el("p", {}, "For: " + c.purposes.map((x) => words(purposeWords, x)).join(", ")),
      el("p", {}, c.expiresAt ? "Until " + day(c.expiresAt) : "Until you take it back"),
      c.grantedBy ? el("p", { class: "note" }, "Given by someone acting for you (" + c.grantedBy + ")") : "",
      revoke));
  }
  list.append(ul);
}

// button is a button named for screen readers (label) that runs act, its
// failure shown in words.
function button(props, text, label, act) {
  const b = el("button", { type: "button", ...props }, text);
  b.setAttribute("aria-label", label);
  b.addEventListener("click", () => Promise.resolve(act()).catch(failed));
  return b;
}

// explain shows a form's problems in words, if it has any, and says
// whether it had.
function explain(problems) {
  if (problems.length === 0) return false;
  $("error").textContent = "Please " + problems.join(", and ") + ".";
  return true;
}

// confirm asks a yes-or-no question in the dialog and runs then on yes.
function confirm(question, yes, then) {
  const dialog = $("confirm");
  $("confirm-text").textContent = question;
  $("confirm-yes").textContent = yes;
  const done = (ok) => {
    dialog.close();
    $("confirm-yes").onclick = $("confirm-no").onclick = null;
    if (ok) then().catch(failed);
  };
  $("confirm-yes").onclick = () => done(true);
  $("confirm-no").onclick = () => done(false);
  dialog.showModal();
  $("confirm-no").focus();
}

function confirmRevoke(c) {
  confirm("Take back the access of " + granteeWords(c.grantee) + "? From now on they are refused.", "Yes, take it back", () => revoke(c));
}

async function revoke(c) {
  status("Taking back the access of " + granteeWords(c.grantee) + "…");
  await submit((nonce) => consentRevocation({ patientId: session.patientId, nonce, consentId: c.consentId }),
    (revocation) => call("POST", "/v1/consents:revoke", { revocation }));
  status("Done: " + granteeWords(c.grantee) + " no longer has access.");
  await renderConsents();
}

function randomId(prefix) {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return prefix + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function grant(form) {
  const data = new FormData(form);
  const kind = data.get("kind");
  const org = data.get("org");
  const user = String(data.get("user") || "").trim();
  const categories = data.getAll("category");
  const purposes = data.getAll("purpose");
  const problems = [];
  if (kind === "user" && !ID.test(user)) problems.push("give the person's user id at the organisation");
  if (categories.length === 0) problems.push("choose at least one kind of record");
  if (purposes.length === 0) problems.push("choose at least one purpose");
  if (explain(problems)) return;
  const grantee = kind === "org" ? { kind: "org", id: org } : { kind: "user", id: org + "/" + user };
  const days = Number(data.get("days"));
  status("Giving access to " + granteeWords(grantee) + "…");
  const consentId = randomId("c-");
  await submit((nonce) => consentGrant({ patientId: session.patientId, nonce, consentId, grantee, categories, purposes, expiresAt: inDays(days) }),
    (grant) => call("POST", "/v1/consents:grant", { grant }));
  form.reset();
  status("Done: " + granteeWords(grantee) + " may now see what you chose.");
  await renderConsents();
}

function fillGrantForm() {
  const select = $("grant-org");
  select.replaceChildren(...vocabulary.organisations.map((o) => el("option", { value: o.mspId }, o.name + " (" + o.kind + ")")));
  const box = (name, value, label) => el("label", {}, el("input", { type: "checkbox", name, value }), " " + label);
  $("grant-categories").append(...vocabulary.categories.map((c) => box("category", c, words(categoryWords, c))));
  $("join-categories").append(...vocabulary.categories.filter((c) => c !== "demographics" && c !== "claims").map((c) => box("category", c, words(categoryWords, c))));
  $("grant-purposes").append(...vocabulary.purposes.filter((p) => p !== "research").map((p) => box("purpose", p, words(purposeWords, p))));
}

// -------------------------------------------------------------- records --

// recordsPath is where the page reads the patient's records (relayed to the
// records service by the consent service).
const recordsPath = () => "/app/api/patients/" + encodeURIComponent(session.patientId) + "/records";

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

async function renderRecords() {
  const list = $("record-list");
  if (!vocabulary.records) {
    list.replaceChildren(el("p", { class: "empty" }, "Your records cannot be shown on this exchange."));
    return;
  }
  const records = [];
  let token = "", withheld = 0;
  for (let i = 0; i < 10; i++) {
    const page = await call("GET", recordsPath() + "?page_size=100" + (token ? "&page_token=" + encodeURIComponent(token) : ""));
    records.push(...(page.records || []));
    withheld += page.withheld || 0;
    token = page.nextPageToken || "";
    if (!token) break;
  }
  list.replaceChildren();
  if (records.length === 0) list.append(el("p", { class: "empty" }, "No records have been filed for you yet."));
  const ul = el("ul", { class: "cards" });
  for (const r of records) {
    const result = el("p", { class: "check", "data-check": r.recordId });
    result.setAttribute("aria-live", "polite");
    const check = button({ class: "secondary", "data-record": r.recordId }, "Check it",
      "Check " + words(categoryWords, r.category) + " record " + r.recordId + " against the ledger",
      () => checkRecord(r, result).catch((err) => {
        result.className = "check bad";
        result.textContent = err instanceof Refused && err.code === 15
          ? "This record does NOT match its fingerprint on the ledger: it was changed after it was filed. It was not shown, and the exchange has raised an alarm."
          : err instanceof Refused || err instanceof Said ? err.message : "It could not be checked: " + err.message;
      }));
    ul.append(el("li", { class: "card", "data-record": r.recordId },
      el("h3", {}, words(categoryWords, r.category)),
      el("p", {}, "Filed by " + orgName(r.org) + " on " + day(r.notarizedAt) + (r.version > 1 ? " (version " + r.version + ")" : "")),
      el("p", { class: "note" }, "Record " + r.recordId + ", fingerprint " + r.sha256.slice(0, 16) + "…"),
      check, result));
  }
  list.append(ul);
  if (withheld > 0) list.append(el("p", { class: "note" }, withheld + " more cannot be shown here."));
}

// checkRecord fetches the record's version, works out its SHA-256 here, and
// compares it with that version's notarization on the ledger; the versions
// before it must each link to the one before.
async function checkRecord(r, out) {
  out.className = "check";
  out.textContent = "Checking…";
  const base = recordsPath() + "/" + encodeURIComponent(r.recordId);
  const got = await call("GET", base + "?version=" + encodeURIComponent(r.version));
  const history = (await call("GET", base + "/history")).versions || [];
  const bytes = Uint8Array.from(atob(got.resource || ""), (c) => c.charCodeAt(0));
  const fingerprint = hex(await crypto.subtle.digest("SHA-256", bytes));
  const notarized = history.find((v) => v.version === got.record.version);
  let linked = true;
  for (let i = 0; i < history.length; i++) {
    if (history[i].version !== i + 1 || (history[i].previousSha256 || "") !== (i > 0 ? history[i - 1].sha256 : "")) linked = false;
  }
  if (!notarized || notarized.sha256 !== fingerprint || !linked) {
    out.className = "check bad";
    out.textContent = !notarized
      ? "This record's version is not on the ledger: do not rely on it."
      : notarized.sha256 !== fingerprint
        ? "This record does NOT match its fingerprint on the ledger: it was changed after it was filed."
        : "The ledger's versions of this record do not link one to the next: do not rely on it.";
    return;
  }
  let summary = got.resourceType || "A record";
  try {
    const res = JSON.parse(new TextDecoder().decode(bytes));
    const name = res.code && (res.code.text || (res.code.coding && res.code.coding[0] && res.code.coding[0].display));
    if (name) summary += ": " + name;
  } catch { /* the fingerprint is what counts */ }
  out.className = "check ok";
  out.textContent = "Unchanged. " + summary + ". This page worked out its fingerprint, " + fingerprint.slice(0, 16) +
    "…, and it matches version " + notarized.version + " on the ledger, written by " + orgName(notarized.org) + " on " +
    day(notarized.notarizedAt) + " (transaction " + (notarized.txId || "").slice(0, 12) + "…)." +
    (history.length > 1 ? " Its " + history.length + " versions link one to the next." : "");
}

// ----------------------------------------------------------- access log --

const actionWords = { read: "Read", write: "Filed", erase: "Erased", verify: "Checked" };

// what is an access event's action and resource in words.
function what(e) {
  const resource = e.resource.startsWith("category/") ? words(categoryWords, e.resource.slice(9)) : e.resource.replace(/^record\//, "record ");
  return (actionWords[e.action] || e.action) + ": " + resource;
}

async function renderLog() {
  const events = [];
  let token = "";
  for (let i = 0; i < 10; i++) {
    const page = await call("GET", "/v1/access-log?pageSize=100" + (token ? "&pageToken=" + encodeURIComponent(token) : ""));
    events.push(...(page.events || []));
    token = page.nextPageToken || "";
    if (!token) break;
  }
  events.reverse(); // newest first
  const filter = document.querySelector('input[name="log-filter"]:checked').value;
  const shown = events.filter((e) => filter === "all" || (filter === "allowed" && e.decision === "allow") ||
    (filter === "denied" && e.decision !== "allow") || (filter === "break-glass" && e.breakGlass));
  const list = $("log-list");
  list.replaceChildren();
  if (shown.length === 0) {
    list.append(el("p", { class: "empty" }, "Nothing to show."));
    return;
  }
  const table = el("table", {}, el("caption", {}, shown.length + " of " + events.length + " accesses, newest first"),
    el("thead", {}, el("tr", {}, ...["When", "Who", "What", "Why", "Answer"].map((h) => el("th", { scope: "col" }, h)))));
  const body = el("tbody");
  for (const e of shown) {
    const answer = e.breakGlass ? "EMERGENCY access" : e.decision === "allow" ? "Allowed" : "Refused";
    const row = el("tr", { class: e.breakGlass ? "break-glass" : e.decision === "allow" ? "allowed" : "denied", "data-actor": e.actor },
      el("td", {}, new Date(e.time).toLocaleString()),
      el("td", {}, actorWords(e.actor, e.actorOrg)),
      el("td", {}, what(e)),
      el("td", {}, words(purposeWords, e.purpose)),
      el("td", {}, answer));
    body.append(row);
  }
  table.append(body);
  list.append(table);
}

// ------------------------------------------------------------- requests --

async function renderRequests() {
  const data = await call("GET", "/v1/access-requests?state=pending");
  const list = $("request-list");
  list.replaceChildren();
  const requests = data.requests || [];
  if (requests.length === 0) {
    list.append(el("p", { class: "empty" }, "Nobody is waiting for an answer."));
    return;
  }
  const ul = el("ul", { class: "cards" });
  for (const r of requests) {
    const who = granteeWords({ kind: "user", id: r.requesterOrg + "/" + r.requester });
    const days = el("select", { id: "days-" + r.requestId },
      ...[["1", "1 day"], ["7", "7 days"], ["30", "30 days"], ["90", "90 days"]].map(([v, l]) => el("option", { value: v, selected: v === "7" }, l)));
    const approve = button({ class: "approve" }, "Allow", "Allow " + who, () => answer(r, true, Number(days.value)));
    const deny = button({ class: "deny secondary" }, "Refuse", "Refuse " + who, () => answer(r, false));
    ul.append(el("li", { class: "card", "data-request": r.requestId },
      el("h3", {}, who + " asks to see"),
      el("p", {}, r.categories.map((x) => words(categoryWords, x)).join(", ")),
      el("p", {}, "For: " + r.purposes.map((x) => words(purposeWords, x)).join(", ")),
      r.reason ? el("p", {}, "Their reason: \u201c" + r.reason + "\u201d") : "",
      el("label", { htmlFor: "days-" + r.requestId }, "If you allow it, for how long"), days,
      el("div", { class: "buttons" }, approve, deny)));
  }
  list.append(ul);
}

async function answer(r, allow, days) {
  const who = granteeWords({ kind: "user", id: r.requesterOrg + "/" + r.requester });
  const path = "/v1/access-requests/" + encodeURIComponent(r.requestId);
  if (!allow) {
    await call("POST", path + ":deny", {});
    status("Refused: " + who + " was told no.");
    return renderRequests();
  }
  status("Allowing " + who + "…");
  const consentId = randomId("c-");
  await submit((nonce) => consentGrant({ patientId: session.patientId, nonce, consentId, grantee: { kind: "user", id: r.requesterOrg + "/" + r.requester },
    categories: r.categories, purposes: r.purposes, expiresAt: inDays(days) }),
  (grant) => call("POST", path + ":approve", { grant }));
  status("Allowed: " + who + " may see what they asked for, for " + days + (days === 1 ? " day." : " days."));
  return renderRequests();
}

// ------------------------------------------------------------- research --

async function renderResearch() {
  const data = await call("GET", "/v1/consents?pageSize=100");
  const studies = (data.consents || []).filter((c) => c.grantee.kind === "study");
  const list = $("study-list");
  list.replaceChildren();
  if (studies.length === 0) {
    list.append(el("p", { class: "empty" }, "You take part in no study."));
    return;
  }
  const ul = el("ul", { class: "cards" });
  for (const c of studies) {
    const active = c.status === "active";
    const item = el("li", { class: "card", "data-study": c.grantee.id, "data-status": c.status },
      el("h3", {}, "Study " + c.grantee.id),
      el("p", {}, "It may use: " + c.categories.map((x) => words(categoryWords, x)).join(", ")),
      el("p", {}, active ? (c.expiresAt ? "Until " + day(c.expiresAt) : "Until you withdraw") : "You withdrew on " + day(c.revokedAt)));
    if (active) {
      item.append(button({ class: "withdraw secondary" }, "Withdraw", "Withdraw from study " + c.grantee.id,
        () => confirm("Withdraw from study " + c.grantee.id + "? No new dataset will include you.", "Yes, withdraw", () => revoke(c).then(renderResearch))));
    }
    ul.append(item);
  }
  list.append(ul);
}

async function join(form) {
  const data = new FormData(form);
  const study = String(data.get("study") || "").trim();
  const categories = data.getAll("category");
  const problems = [];
  if (!ID.test(study)) problems.push("give the study's id as its invitation shows it");
  if (categories.length === 0) problems.push("choose at least one kind of record");
  if (explain(problems)) return;
  status("Joining study " + study + "…");
  const consentId = randomId("c-");
  await submit((nonce) => consentGrant({ patientId: session.patientId, nonce, consentId, grantee: { kind: "study", id: study }, categories,
    purposes: ["research"], expiresAt: inDays(365) }),
  (grant) => call("POST", "/v1/consents:grant", { grant }));
  form.reset();
  status("You take part in study " + study + ".");
  await renderResearch();
}

// -------------------------------------------------------------- devices --

async function renderDevices() {
  const data = await call("GET", "/v1/devices");
  const list = $("device-list");
  list.replaceChildren();
  const devices = (data.devices || []).slice().sort((a, b) => (a.status === b.status ? 0 : a.status === "active" ? -1 : 1));
  if (devices.length === 0) {
    list.append(el("p", { class: "empty" }, "No wearable is paired with you."));
    return;
  }
  const ul = el("ul", { class: "cards" });
  for (const d of devices) {
    const active = d.status === "active";
    const item = el("li", { class: "card", "data-device": d.deviceId, "data-status": d.status },
      el("h3", {}, d.deviceId),
      el("p", {}, active ? "Paired on " + day(d.registeredAt) : "Unpaired on " + day(d.revokedAt) + ": its new readings are refused"),
      el("p", { class: "note" }, "Key " + d.publicKey.slice(0, 12) + "…"));
    if (active) {
      item.append(button({ class: "unpair secondary" }, "Unpair", "Unpair " + d.deviceId,
        () => confirm("Unpair " + d.deviceId + "? Readings it sent before stay yours; new ones are refused.", "Yes, unpair it", () => unpair(d))));
    }
    ul.append(item);
  }
  list.append(ul);
}

async function pair(form) {
  const data = new FormData(form);
  const deviceId = String(data.get("deviceId") || "").trim();
  const publicKey = String(data.get("publicKey") || "").replace(/\s+/g, "");
  const problems = [];
  if (!ID.test(deviceId)) problems.push("give the wearable a name of letters, digits and dashes");
  let raw = null;
  try { raw = atob(publicKey); } catch { raw = null; }
  if (raw === null || raw.length !== 32) problems.push("paste the wearable's public key exactly as it shows it (44 characters)");
  if (explain(problems)) return;
  status("Pairing " + deviceId + "…");
  await submit((nonce) => deviceRegistration({ patientId: session.patientId, nonce, deviceId, publicKey }),
    (registration) => call("POST", "/v1/devices:pair", { registration }));
  form.reset();
  status("Paired: the readings " + deviceId + " signs are known to be yours.");
  await renderDevices();
}

async function unpair(d) {
  status("Unpairing " + d.deviceId + "…");
  await submit((nonce) => deviceRevocation({ patientId: session.patientId, nonce, deviceId: d.deviceId }),
    (revocation) => call("POST", "/v1/devices:revoke", { revocation }));
  status("Unpaired: new readings from " + d.deviceId + " are refused.");
  await renderDevices();
}

// -------------------------------------------------------- notifications --

const live = { controller: null };

function stopLive() {
  if (live.controller) live.controller.abort();
  live.controller = null;
}

// granteeOf reads a notification's grantee ("user:MSP/ID", "org:MSP", "study:ID") in words.
function granteeOf(s) {
  const i = String(s || "").indexOf(":");
  return i < 0 ? String(s || "") : granteeWords({ kind: s.slice(0, i), id: s.slice(i + 1) });
}

function noteWords(n) {
  const who = actorWords(n.actor, n.actorOrg);
  switch (n.kind) {
    case "break-glass":
      return ["EMERGENCY: " + who + " opened your records without your consent", "Their reason: \u201c" + (n.breakGlassReason || "") + "\u201d"];
    case "access":
      return [who + (n.decision === "allow" ? " looked at " : " was refused ") + words(categoryWords, (n.resource || "").replace(/^category\//, "")), words(purposeWords, n.purpose)];
    case "access-request":
      return [who + " asks to see some of your records", "Answer it under Requests."];
    case "consent-granted":
      return ["You gave access to " + granteeOf(n.grantee), ""];
    case "consent-revoked":
      return ["You took back the access of " + granteeOf(n.grantee), ""];
    case "consent-expiring":
      return ["The access of " + granteeOf(n.grantee) + " ends on " + day(n.expiresAt), ""];
    default:
      return [n.kind, ""];
  }
}

function noteItem(n) {
  const [title, detail] = noteWords(n);
  return el("li", { class: "card" + (n.kind === "break-glass" ? " break-glass" : ""), "data-seq": String(n.seq), "data-kind": n.kind },
    el("h3", {}, title), detail ? el("p", {}, detail) : "", el("p", { class: "note" }, new Date(n.time).toLocaleString()));
}

async function renderNotifications() {
  const data = await call("GET", "/v1/notifications?pageSize=100");
  const notes = data.notifications || [];
  const list = $("notification-list");
  list.replaceChildren(...notes.slice().reverse().map(noteItem));
  const after = notes.length ? notes[notes.length - 1].seq : 0;
  follow(after).catch(() => { $("live").textContent = "New ones are not shown live right now; come back to this page to see them."; });
}

// follow reads the feed's events as they come (the stream needs the
// bearer, so fetch reads it, not EventSource), until the page changes.
async function follow(after) {
  stopLive();
  const controller = new AbortController();
  live.controller = controller;
  const res = await fetch("/v1/notifications/events?after=" + encodeURIComponent(after), {
    headers: { Authorization: "Bearer " + session.token }, signal: controller.signal, credentials: "omit", cache: "no-store" });
  if (!res.ok) throw new Error("stream " + res.status);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (/^event: notification$/m.test(block) && data) {
        $("notification-list").prepend(noteItem(JSON.parse(data)));
      }
    }
  }
}

// ---------------------------------------------------------------- setup --

async function setUp(form) {
  const data = new FormData(form);
  const patientId = String(data.get("patientId") || "").trim();
  const token = String(data.get("token") || "").trim();
  const wantBackup = data.get("backup") === "on";
  const passphrase = String(data.get("passphrase") || "");
  const wantRecovery = data.get("recovery") === "on";
  const recoveryDelaySeconds = wantRecovery ? Number(data.get("recoveryDelay")) : 0;
  if (!ID.test(patientId) || !token) {
    $("error").textContent = "Please give your patient id and the sign-in from your identity provider.";
    return;
  }
  if (wantBackup && passphrase.length < backup.MIN_PASSPHRASE) {
    $("error").textContent = "Please choose a passphrase of at least " + backup.MIN_PASSPHRASE + " characters for the backup.";
    return;
  }
  status("Making your key…");
  let pair, backupText = "";
  if (wantBackup) {
    // The only moment the key can be copied: sealed under the passphrase,
    // then kept here as a key that cannot be exported.
    const made = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", made.privateKey));
    backupText = await backup.seal(crypto.subtle, patientId, pkcs8, passphrase);
    pair = { privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]), publicKey: made.publicKey };
    pkcs8.fill(0);
  } else {
    pair = await keys.generate();
  }
  if (wantRecovery && !(Number.isSafeInteger(recoveryDelaySeconds) && recoveryDelaySeconds >= 1 && recoveryDelaySeconds <= 30 * 86400)) {
    $("error").textContent = "Please choose how long a replacement of your key waits (at most 30 days).";
    return;
  }
  let recoveryKey = "", recoveryText = "";
  if (wantRecovery) {
    // Exported once, into the file the patient keeps; not kept here.
    const made = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", made.privateKey));
    recoveryText = recovery.fileOf(patientId, pkcs8);
    pkcs8.fill(0);
    recoveryKey = await publicKeyOf(crypto.subtle, made.publicKey);
  }
  const publicKey = await publicKeyOf(crypto.subtle, pair.publicKey);
  const payload = registration({ patientId, publicKey, recoveryKey, recoveryDelaySeconds });
  const signature = await sign(crypto.subtle, pair.privateKey, payload);
  status("Registering your key on the ledger…");
  await call("POST", "/v1/patients:register", { registration: { payload, signature } }, token);
  await keys.save(patientId, pair);
  form.reset();
  await signIn(patientId);
  if (backupText) {
    const link = $("backup-link");
    link.href = URL.createObjectURL(new Blob([backupText], { type: "application/json" }));
    link.download = "healthexchange-key-" + patientId + ".json";
    $("backup-ready").hidden = false;
  }
  if (recoveryText) {
    const link = $("recovery-link");
    link.href = URL.createObjectURL(new Blob([recoveryText], { type: "application/json" }));
    link.download = "healthexchange-recovery-key-" + patientId + ".json";
    $("recovery-ready").hidden = false;
  }
  status("Your key is registered, and you are signed in.");
  location.hash = "#consents";
  route();
}

// restore takes the key from another device's backup, keeps it here as a
// key that cannot be exported, and signs in with it (which checks it is the
// key on the ledger).
async function restore(form) {
  const file = form.querySelector("#restore-file").files[0];
  const passphrase = String(new FormData(form).get("passphrase") || "");
  if (!file || !passphrase) {
    $("error").textContent = "Please choose the backup file and give its passphrase.";
    return;
  }
  if (file.size > 16384) {
    $("error").textContent = "This file is too large to be a key backup.";
    return;
  }
  status("Opening the backup…");
  let opened;
  try {
    opened = await backup.open(crypto.subtle, await file.text(), passphrase);
  } catch (err) {
    throw new Said("This backup cannot be opened: " + err.message + ".");
  }
  const { patientId, pkcs8 } = opened;
  if (await keys.load(patientId)) throw new Said("This device holds the key of " + patientId + " already.");
  const copy = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", copy);
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, true, ["verify"]);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  pkcs8.fill(0);
  await keys.save(patientId, { privateKey, publicKey });
  try {
    await signIn(patientId);
  } catch (err) {
    await keys.remove(patientId);
    throw err;
  }
  form.reset();
  status("This device now holds your key, and you are signed in.");
  location.hash = "#consents";
  route();
}

// recover asks, with the recovery key's file, for a new key made here to
// replace a lost one. The recovery key signs the request with its own
// nonce, and the new key signs the same bytes; the new key is kept here, and
// signing in with it once the waiting period is over puts it in force.
async function recover(form) {
  const file = form.querySelector("#recover-file").files[0];
  const token = String(new FormData(form).get("token") || "").trim();
  if (!file || !token) {
    $("error").textContent = "Please choose your recovery key's file and give the sign-in from your identity provider.";
    return;
  }
  if (file.size > recovery.MAX_FILE) {
    $("error").textContent = "This file is too large to be a recovery key.";
    return;
  }
  status("Reading your recovery key…");
  let rk;
  try {
    rk = await recovery.open(crypto.subtle, await file.text());
  } catch (err) {
    throw new Said("This recovery key cannot be used: " + err.message + ".");
  }
  const patientId = rk.patientId;
  if (await keys.load(patientId)) throw new Said("This device holds a key of " + patientId + " already: sign in with it instead.");
  const me = (await call("GET", "/v1/patients/me", undefined, token)).patient || {};
  if (me.patientId !== patientId) throw new Said("The sign-in you gave is not " + patientId + "'s.");
  if (me.recoveryKey !== rk.publicKey) throw new Said("This is not the recovery key registered for " + patientId + ".");
  const pair = await keys.generate();
  const newPublicKey = await publicKeyOf(crypto.subtle, pair.publicKey);
  const payload = recoveryRequest({ patientId, nonce: Number(me.recoveryNonce || 0) + 1, newPublicKey });
  const body = {
    recovery: { payload, signature: await sign(crypto.subtle, rk.privateKey, payload) },
    newKeySignature: await sign(crypto.subtle, pair.privateKey, payload),
  };
  status("Asking the ledger for your new key…");
  const done = (await call("POST", "/v1/patients/me:request-recovery", body, token)).patient;
  await keys.save(patientId, pair);
  form.reset();
  await renderWelcome();
  status("Asked. Your new key takes effect on " + new Date(done.recovery.effectiveAt).toLocaleString() +
    ". Sign in here then. Until then, your old key can stop the change.");
}

// checkRecovery warns the signed-in patient of a pending replacement of
// their key, which they may stop with the key they signed in with.
async function checkRecovery() {
  if (!session.token) return;
  const me = (await call("GET", "/v1/patients/me")).patient || {};
  const pending = me.recovery;
  $("recovery-alert").hidden = !pending;
  if (!pending) return;
  $("recovery-alert-text").textContent = "Someone asked on " + new Date(pending.requestedAt).toLocaleString() +
    " to replace your key with your recovery key. The new key takes effect on " + new Date(pending.effectiveAt).toLocaleString() +
    ". If this was not you, stop it now.";
}

async function stopRecovery() {
  status("Stopping the replacement of your key…");
  await submit((nonce) => recoveryCancel({ patientId: session.patientId, nonce }),
    (cancellation) => call("POST", "/v1/patients/me:cancel-recovery", { cancellation }));
  $("recovery-alert").hidden = true;
  status("Stopped: your key stays yours.");
}

// ---------------------------------------------------------------- start --

async function start() {
  vocabulary = await call("GET", "/app/api/vocabulary", undefined, "");
  fillGrantForm();
  $("setup-form").addEventListener("submit", (e) => { e.preventDefault(); setUp(e.target).catch(failed); });
  $("restore-form").addEventListener("submit", (e) => { e.preventDefault(); restore(e.target).catch(failed); });
  $("recover-form").addEventListener("submit", (e) => { e.preventDefault(); recover(e.target).catch(failed); });
  $("recovery-stop").addEventListener("click", () => stopRecovery().catch(failed));
  $("grant-form").addEventListener("submit", (e) => { e.preventDefault(); grant(e.target).catch(failed); });
  $("pair-form").addEventListener("submit", (e) => { e.preventDefault(); pair(e.target).catch(failed); });
  $("join-form").addEventListener("submit", (e) => { e.preventDefault(); join(e.target).catch(failed); });
  $("sign-in").addEventListener("click", async () => {
    try {
      const entry = await keys.first();
      status("Signing in…");
      await signIn(entry.patientId);
      status("Signed in.");
      route();
    } catch (err) { failed(err); }
  });
  $("sign-out").addEventListener("click", () => { endSession(""); status("Signed out."); });
  $("forget-key").addEventListener("click", async () => {
    const entry = await keys.first().catch(() => undefined);
    if (!entry) return;
    confirm("Forget the key of " + entry.patientId + " on this device? If it is your only copy and it is still in force, " +
      "you will need your backup or your recovery key to act as " + entry.patientId + " again.", "Yes, forget it", async () => {
      await keys.remove(entry.patientId);
      await renderWelcome();
      status("This device no longer holds the key of " + entry.patientId + ".");
    });
  });
  $("log-refresh").addEventListener("click", () => renderLog().catch(failed));
  $("requests-refresh").addEventListener("click", () => renderRequests().catch(failed));
  $("records-refresh").addEventListener("click", () => renderRecords().catch(failed));
  for (const r of document.querySelectorAll('input[name="log-filter"]')) r.addEventListener("change", () => renderLog().catch(failed));
  for (const r of document.querySelectorAll('input[name="kind"]')) {
    r.addEventListener("change", () => {
      const org = document.querySelector('input[name="kind"]:checked').value === "org";
      $("grant-user").hidden = $("grant-user-label").hidden = org;
    });
  }
  window.addEventListener("hashchange", route);
  route();
}

start().catch(failed);
