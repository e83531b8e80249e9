// The patient's web app: set up this device's key, sign in with it, see and
// change who may see what, and see who looked. The session token is kept in
// this module's memory only (never in storage): a reload or 15 minutes
// ends the session, and no other site can make the page send it.

import * as keys from "./keystore.js";
import { consentGrant, consentRevocation, publicKeyOf, registration, sign, timeRFC3339 } from "./sign.js";

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
  if (status === 401) return "Your session has ended. Sign in again.";
  if (status === 429) return "Too many attempts. Wait a minute and try again.";
  if (status === 503) return "The exchange cannot confirm this right now. Nothing was changed; try again in a moment.";
  if (/no key of their own/.test(message)) return "This account has no key of its own yet: your guardian acts for you until you claim it at the hospital.";
  if (/already registered/.test(message)) return "This patient id is registered already. Sign in on the device that holds its key.";
  if (/signature/.test(message)) return "Your key's signature was not accepted. Sign in again on the device that holds your key.";
  if (status === 403) return "This is not allowed: " + message;
  if (status === 400) return "Something in the form is not right: " + message;
  return "Something went wrong (" + status + "). Nothing was changed.";
}

class Refused extends Error {
  constructor(status, message) {
    super(said(status, message));
    this.status = status;
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
    if (res.status === 401 && token) endSession("Your session has ended. Sign in again.");
    throw new Refused(res.status, data.message || "");
  }
  return data;
}

function status(text) {
  $("status").textContent = text;
  $("error").textContent = "";
}

function failed(err) {
  $("status").textContent = "";
  $("error").textContent = err instanceof Refused ? err.message : "Something went wrong in this page: " + err.message;
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
  session.token = "";
  session.patientId = "";
  clearTimeout(session.timer);
  show("welcome");
  if (why) $("error").textContent = why;
}

// nextNonce is one above both the ledger's last nonce of the patient and
// this device's, saved before it is used.
async function nextNonce() {
  const me = await call("GET", "/v1/patients/me");
  const entry = await keys.load(session.patientId);
  const nonce = Math.max(Number(me.patient.nonce || 0), entry.nonce || 0) + 1;
  await keys.setNonce(session.patientId, nonce);
  return { nonce, privateKey: entry.privateKey };
}

// --------------------------------------------------------------- pages --

const pages = ["welcome", "consents", "access-log"];

function show(page) {
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
  if (page === "consents") return renderConsents().catch(failed);
  if (page === "access-log") return renderLog().catch(failed);
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

function granteeWords(g) {
  const org = (mspId) => (vocabulary.organisations.find((o) => o.mspId === mspId) || { name: mspId }).name;
  if (g.kind === "org") return "Everyone at " + org(g.id);
  if (g.kind === "study") return "Research study " + g.id;
  const [mspId, user] = g.id.split("/");
  return user + " at " + org(mspId);
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
    const revoke = el("button", { type: "button", class: "revoke", "data-consent": c.consentId }, "Take back");
    revoke.setAttribute("aria-label", "Take back the access of " + granteeWords(c.grantee));
    revoke.addEventListener("click", () => confirmRevoke(c));
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

function confirmRevoke(c) {
  const dialog = $("confirm");
  $("confirm-text").textContent = "Take back the access of " + granteeWords(c.grantee) + "? From now on they are refused.";
  const done = (yes) => {
    dialog.close();
    $("confirm-yes").onclick = $("confirm-no").onclick = null;
    if (yes) revoke(c).catch(failed);
  };
  $("confirm-yes").onclick = () => done(true);
  $("confirm-no").onclick = () => done(false);
  dialog.showModal();
  $("confirm-no").focus();
}

async function revoke(c) {
  status("Taking back the access of " + granteeWords(c.grantee) + "…");
  const { nonce, privateKey } = await nextNonce();
  const payload = consentRevocation({ patientId: session.patientId, nonce, consentId: c.consentId });
  const signature = await sign(crypto.subtle, privateKey, payload);
  await call("POST", "/v1/consents:revoke", { revocation: { payload, signature } });
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
  if (kind === "user" && !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(user)) problems.push("give the person's user id at the organisation");
  if (categories.length === 0) problems.push("choose at least one kind of record");
  if (purposes.length === 0) problems.push("choose at least one purpose");
  if (problems.length) {
    $("error").textContent = "Please " + problems.join(", and ") + ".";
    return;
  }
  const grantee = kind === "org" ? { kind: "org", id: org } : { kind: "user", id: org + "/" + user };
  const days = Number(data.get("days"));
  status("Giving access to " + granteeWords(grantee) + "…");
  const { nonce, privateKey } = await nextNonce();
  const payload = consentGrant({
    patientId: session.patientId, nonce, consentId: randomId("c-"), grantee, categories, purposes,
    notBefore: "", expiresAt: timeRFC3339(new Date(Date.now() + days * 86400000)),
  });
  const signature = await sign(crypto.subtle, privateKey, payload);
  await call("POST", "/v1/consents:grant", { grant: { payload, signature } });
  form.reset();
  status("Done: " + granteeWords(grantee) + " may now see what you chose.");
  await renderConsents();
}

function fillGrantForm() {
  const select = $("grant-org");
  select.replaceChildren(...vocabulary.organisations.map((o) => el("option", { value: o.mspId }, o.name + " (" + o.kind + ")")));
  const box = (name, value, label) => el("label", {}, el("input", { type: "checkbox", name, value }), " " + label);
  $("grant-categories").append(...vocabulary.categories.map((c) => box("category", c, words(categoryWords, c))));
  $("grant-purposes").append(...vocabulary.purposes.filter((p) => p !== "research").map((p) => box("purpose", p, words(purposeWords, p))));
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
      el("td", {}, e.actor + (e.actorOrg ? " (" + ((vocabulary.organisations.find((o) => o.mspId === e.actorOrg) || {}).name || e.actorOrg) + ")" : "")),
      el("td", {}, what(e)),
      el("td", {}, words(purposeWords, e.purpose)),
      el("td", {}, answer));
    body.append(row);
  }
  table.append(body);
  list.append(table);
}

// ---------------------------------------------------------------- setup --

async function setUp(form) {
  const data = new FormData(form);
  const patientId = String(data.get("patientId") || "").trim();
  const token = String(data.get("token") || "").trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(patientId) || !token) {
    $("error").textContent = "Please give your patient id and the sign-in from your identity provider.";
    return;
  }
  status("Making your key…");
  const pair = await keys.generate();
  const publicKey = await publicKeyOf(crypto.subtle, pair.publicKey);
  const payload = registration({ patientId, publicKey });
  const signature = await sign(crypto.subtle, pair.privateKey, payload);
  status("Registering your key on the ledger…");
  await call("POST", "/v1/patients:register", { registration: { payload, signature } }, token);
  await keys.save(patientId, pair);
  form.reset();
  await signIn(patientId);
  status("Your key is registered, and you are signed in.");
  location.hash = "#consents";
  route();
}

// ---------------------------------------------------------------- start --

async function start() {
  vocabulary = await call("GET", "/app/api/vocabulary", undefined, "");
  fillGrantForm();
  $("setup-form").addEventListener("submit", (e) => { e.preventDefault(); setUp(e.target).catch(failed); });
  $("grant-form").addEventListener("submit", (e) => { e.preventDefault(); grant(e.target).catch(failed); });
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
  $("log-refresh").addEventListener("click", () => renderLog().catch(failed));
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
