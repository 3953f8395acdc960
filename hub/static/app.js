// Reppu demo page: dev login, inbox, live updates, sending and delivery reports,
// the week's timetable and substitutions, all against the API of this origin
// (docs/live-protocol.md for /v1/live).
// Everything that came from a person (subjects, bodies, names) goes into the DOM
// as text only: el() takes strings as text nodes, never as markup.
"use strict";

const LIVE_BACKOFF_MIN_MS = 1000;
const LIVE_BACKOFF_MAX_MS = 10000;
const INBOX_PAGE = 100;
// Pages of the inbox loaded at login (older items beyond are not shown).
const INBOX_MAX_PAGES = 20;
// Messages I sent earlier, listed for their reports.
const SENT_SHOWN = 10;
const STAFF = new Set(["teacher", "principal", "secretary", "staff"]);
const SCHEDULERS = new Set(["principal", "secretary"]); // may schedule a school's timetable
const ROLE_NAMES = {
  learner: "oppilas", guardian: "huoltaja", teacher: "opettaja",
  principal: "rehtori", secretary: "koulusihteeri", staff: "henkilökunta",
};
const TOKEN_KEY = "reppu.token";
// Timetable change notices come from this module (scheduling/notices.py SOURCE).
const TIMETABLE_SENDER = "timetable";
const WEEKDAYS = ["ma", "ti", "ke", "to", "pe", "la", "su"];

const state = {
  token: null,
  me: null,
  items: new Map(),        // message id -> inbox item {seq, message, state, for_learners}
  lastSeq: 0,              // seq of the last event this page holds
  sent: [],                // [{id, subject}] sent from this page
  reports: new Map(),      // message id -> report from GET /v1/messages/{id}/report
  reportEvents: new Map(), // message id -> Map(person id -> {delivered_at, read_at, acked_at})
  shownReport: null,       // message id of the report on screen
  sendKey: null,           // idempotency key of the draft in the send form
};

// ---- small helpers ---------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString("fi-FI", { day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit" });
}

function uuid4() {
  // crypto.randomUUID exists only in secure contexts; getRandomValues everywhere.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function showError(err) {
  const box = $("error");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = err.code ? `${err.message} (${err.code})` : String(err.message || err);
  box.hidden = false;
}

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  if (!r.ok) {
    const err = new ApiError(r.status, (data && data.code) || `http_${r.status}`, (data && data.message) || r.statusText);
    if (r.status === 401 && state.token) logout("Istunto päättyi: kirjaudu uudelleen.");
    throw err;
  }
  return data;
}

// ---- login -----------------------------------------------------------------------------

async function loadDevLogins() {
  const box = $("dev-logins");
  let logins;
  try { logins = await api("GET", "/v1/auth/dev-logins"); } catch (e) {
    box.replaceChildren(el("p", { class: "muted" }, `Valmiita tunnuksia ei ole (${e.code}).`));
    return;
  }
  const parts = [];
  for (const [tenant, roles] of Object.entries(logins)) {
    const rows = [];
    for (const [role, names] of Object.entries(roles)) {
      if (!names.length) continue;
      rows.push(el("li", {}, el("span", { class: "role" }, ROLE_NAMES[role] || role),
        ...names.map((u) => el("button", { type: "button", class: "chip", "data-username": u, onclick: () => login(u) }, u))));
    }
    parts.push(el("div", { class: "tenant" }, el("h3", {}, tenant), el("ul", {}, ...rows)));
  }
  box.replaceChildren(...parts);
}

async function login(username) {
  showError(null);
  try {
    const t = await api("POST", "/v1/auth/dev-login", { username });
    state.token = t.token;
    sessionStorage.setItem(TOKEN_KEY, t.token);
    await start();
  } catch (e) { showError(e); }
}

function logout(why) {
  live.stop();
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { me: null, lastSeq: 0, sent: [], shownReport: null });
  state.items.clear(); state.reports.clear(); state.reportEvents.clear();
  Object.assign(week, { gen: week.gen + 1, monday: null, data: null, shown: false });
  Object.assign(subs, { absence: null, result: "" });
  $("app").hidden = true; $("who").hidden = true; $("login").hidden = false;
  $("inbox-list").replaceChildren(); $("sent-list").replaceChildren(); $("report").hidden = true;
  $("week").hidden = true; $("week-body").replaceChildren(); $("absence").hidden = true;
  showError(why ? { message: why } : null);
}

async function start() {
  state.me = await api("GET", "/v1/me");
  renderMe();
  await loadInbox();
  await refreshCounts();
  if (state.me.person.roles.some((r) => STAFF.has(r.role))) await loadSent();
  // The timetable is not the inbox: if it cannot be read, the page still starts.
  try { await startWeek(); } catch (e) { showError(e); }
  try { await startSubs(); } catch (e) { showError(e); }
  $("login").hidden = true; $("app").hidden = false; $("who").hidden = false;
  live.start();
}

function renderMe() {
  const { person, tenant, children, groups } = state.me;
  $("who-name").textContent = `${person.given_name} ${person.family_name} (${tenant.slug})`;
  const roles = [...new Set(person.roles.map((r) => ROLE_NAMES[r.role] || r.role))].join(", ") || "—";
  const kids = children.map((c) => `${c.given_name} ${c.family_name}`).join(", ") || "—";
  const grps = groups.map((g) => g.name).join(", ") || "—";
  $("me-facts").replaceChildren(
    el("dt", {}, "Nimi"), el("dd", {}, `${person.given_name} ${person.family_name}`),
    el("dt", {}, "Roolit"), el("dd", {}, roles),
    el("dt", {}, "Lapset"), el("dd", {}, kids),
    el("dt", {}, "Ryhmät"), el("dd", {}, grps));
  const staff = person.roles.some((r) => STAFF.has(r.role));
  $("app").classList.toggle("staff", staff);
  $("send").hidden = !(staff && groups.length);
  $("reports").hidden = !staff;
  const schools = [...new Set(person.roles.filter((r) => SCHEDULERS.has(r.role)).map((r) => r.school_id))];
  $("timetable").hidden = !schools.length;
  $("draft-school").replaceChildren(...schools.map((id) => el("option", { value: id }, id)));
  $("send-group").replaceChildren(...groups.map((g) => el("option", { value: g.id }, `${g.name} (${g.kind === "class" ? "luokka" : "opetusryhmä"})`)));
  state.sendKey = uuid4();
}

// ---- inbox -----------------------------------------------------------------------------

async function loadInbox() {
  state.items.clear();
  let after = 0;
  let head = 0;
  for (let page = 0; page < INBOX_MAX_PAGES; page++) {
    const r = await api("GET", `/v1/inbox?after=${after}&limit=${INBOX_PAGE}`);
    head = r.head;
    for (const item of r.items) state.items.set(item.message.id, item);
    if (r.items.length < INBOX_PAGE) { after = head; break; }
    after = r.items[r.items.length - 1].seq;
  }
  // Resume the live stream from what this page holds: the head when it has all.
  state.lastSeq = after;
  renderInbox();
}

let countsBusy = false;
let countsAgain = false;
async function refreshCounts() {
  if (countsBusy) { countsAgain = true; return; }
  countsBusy = true;
  try {
    do {
      countsAgain = false;
      const c = await api("GET", "/v1/inbox/counts");
      $("count-unread").textContent = String(c.unread);
      $("count-ack").textContent = String(c.awaiting_ack);
    } while (countsAgain);
  } catch (e) { showError(e); } finally { countsBusy = false; }
}

function learnerNames(ids) {
  const kids = new Map((state.me ? state.me.children : []).map((c) => [c.id, `${c.given_name} ${c.family_name}`]));
  return ids.map((id) => kids.get(id)).filter(Boolean).join(", ");
}

function renderItem(item) {
  const m = item.message;
  const s = item.state || {};
  const about = learnerNames(item.for_learners || []);
  const status = [];
  status.push(s.read_at ? `Luettu ${fmtTime(s.read_at)}` : "Lukematta");
  if (m.requires_ack) status.push(s.acked_at ? `Kuitattu ${fmtTime(s.acked_at)}` : "Odottaa kuittausta");
  const actions = el("div", { class: "actions" });
  if (!s.read_at) actions.append(el("button", { type: "button", class: "read", onclick: () => mark(m.id, "read") }, "Merkitse luetuksi"));
  if (m.requires_ack && !s.acked_at) actions.append(el("button", { type: "button", class: "ack", onclick: () => mark(m.id, "ack") }, "Kuittaa"));
  return el("li", {
    class: `item${s.read_at ? "" : " unread"}`,
    "data-message-id": m.id, "data-seq": item.seq,
    "data-read": s.read_at ? "true" : "false", "data-acked": s.acked_at ? "true" : "false",
  },
  el("h3", { class: "subject" }, m.subject),
  el("p", { class: "meta" }, `${m.kind === "announcement" ? "Tiedote" : "Viesti"} · ${m.sender_name} · ${fmtTime(m.created_at)}`,
    m.urgency !== "normal" ? el("span", { class: "urgent" }, ` ${m.urgency}`) : null,
    about ? ` · koskee: ${about}` : null),
  el("p", { class: "msg-body" }, m.body),
  el("p", { class: "status" }, status.join(" · ")),
  actions);
}

function renderInbox() {
  const items = [...state.items.values()].filter((i) => !(i.state && i.state.archived_at));
  items.sort((a, b) => b.seq - a.seq);
  $("inbox-list").replaceChildren(...items.map(renderItem));
  $("inbox-empty").hidden = items.length > 0;
}

async function mark(id, action) {
  showError(null);
  try {
    const st = await api("POST", `/v1/inbox/${id}/${action}`);
    const item = state.items.get(id);
    if (item) { item.state = st; renderInbox(); }
    refreshCounts();
  } catch (e) { showError(e); }
}

// ---- live ------------------------------------------------------------------------------

const live = {
  ws: null,
  stopped: true,
  backoff: LIVE_BACKOFF_MIN_MS,
  timer: null,

  start() { this.stopped = false; this.backoff = LIVE_BACKOFF_MIN_MS; this.connect(); },

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "logout");
    setLive("offline", "Ei yhteyttä");
  },

  async connect() {
    if (this.stopped) return;
    setLive("connecting", "Yhdistetään…");
    let ticket;
    try { ticket = (await api("POST", "/v1/live/ticket")).ticket; } catch (e) {
      if (e.status === 401 || e.status === 403) return; // api() logged out, or not a person
      return this.retry();
    }
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/v1/live`);
    this.ws = ws;
    // The ticket goes in the first frame, never into the URL.
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", ticket, last_seq: state.lastSeq }));
    ws.onmessage = (ev) => { if (this.ws === ws) onFrame(JSON.parse(ev.data)); };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code >= 4100) { // terminal (docs/live-protocol.md): do not reconnect as we are
        if (ev.code === 4100) logout("Istunto päättyi: kirjaudu uudelleen.");
        else { setLive("offline", `Yhteys suljettu (${ev.code})`); this.stopped = true; }
        return;
      }
      this.retry();
    };
  },

  retry() {
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, LIVE_BACKOFF_MAX_MS);
    setLive("offline", `Ei yhteyttä — uusi yritys ${Math.round(wait / 1000)} s kuluttua`);
    this.timer = setTimeout(() => this.connect(), wait);
  },

  send(frame) { if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame)); },

  resync() { if (this.ws) this.ws.close(4000, "gap"); }, // onclose reconnects with lastSeq
};

function setLive(kind, text) {
  const node = $("live");
  node.dataset.state = kind;
  node.textContent = text;
}

function onFrame(f) {
  if (typeof f.seq === "number") {
    if (f.seq <= state.lastSeq) return;          // already held
    if (f.seq !== state.lastSeq + 1) { live.resync(); return; } // a gap: resume from lastSeq
    state.lastSeq = f.seq;
  }
  switch (f.type) {
    case "message":
      // A replayed message already withdrawn by its module is not shown at all.
      if (!(f.state && f.state.withdrawn_at)) {
        state.items.set(f.message.id, {
          seq: f.seq, message: f.message, for_learners: f.for_learners || [],
          state: f.state || { read_at: null, acked_at: null, archived_at: null },
        });
      }
      if (f.message.sender_name === TIMETABLE_SENDER) reloadWeek(); // the day changed
      renderInbox(); refreshCounts();
      break;
    case "state": {
      const item = state.items.get(f.message_id);
      if (f.state && f.state.withdrawn_at) { // withdrawn: it leaves the inbox
        state.items.delete(f.message_id);
        if (item && item.message.sender_name === TIMETABLE_SENDER) reloadWeek();
        renderInbox();
      } else if (item) { item.state = f.state; renderInbox(); }
      refreshCounts();
      break;
    }
    case "synced":
      live.backoff = LIVE_BACKOFF_MIN_MS;
      setLive("online", "Yhdistetty");
      break;
    case "report": onReport(f); break;
    case "signal": if (f.kind === "timetable.solve") onSolveProgress(f.data); break;
    case "ping": live.send({ type: "pong" }); break;
    case "pong": break;
    case "error": showError({ message: "Live-virhe", code: f.code }); break;
    default: break; // frames of later versions are ignored
  }
}

// ---- sending ---------------------------------------------------------------------------

async function onSend(ev) {
  ev.preventDefault();
  showError(null);
  const button = $("send-submit");
  const subject = $("send-subject").value.trim();
  const body = {
    idempotency_key: state.sendKey, // kept across retries of this draft: one message
    audience: { type: $("send-audience").value, group: $("send-group").value },
    subject,
    body: $("send-body").value,
    kind: $("send-kind").value,
  };
  if ($("send-ack").checked) body.ack = { quorum: "any" };
  button.disabled = true;
  try {
    const r = await api("POST", "/v1/messages", body);
    $("send-result").textContent = `Lähetetty ${r.recipients} vastaanottajalle.`;
    state.sendKey = uuid4();
    $("send-form").reset();
    if (!state.sent.some((s) => s.id === r.id)) state.sent.unshift({ id: r.id, subject });
    renderSent();
    await showReport(r.id);
  } catch (e) {
    showError(e);
  } finally { button.disabled = false; }
}

async function loadSent() {
  const items = await api("GET", `/v1/messages/sent?limit=${SENT_SHOWN}`);
  state.sent = items.map((i) => ({ id: i.message.id, subject: i.message.subject }));
  renderSent();
}

function renderSent() {
  $("sent-list").replaceChildren(...state.sent.map((s) =>
    el("li", {}, el("button", { type: "button", class: "link", "data-message-id": s.id, onclick: () => showReport(s.id) }, s.subject))));
}

// ---- delivery report -------------------------------------------------------------------

async function showReport(id) {
  showError(null);
  state.shownReport = id;
  try {
    state.reports.set(id, await api("GET", `/v1/messages/${id}/report`));
  } catch (e) { showError(e); return; }
  if (state.shownReport === id) renderReport();
}

function onReport(f) {
  // Kept even before the report is loaded: a frame can beat the GET.
  if (!state.reportEvents.has(f.message_id)) state.reportEvents.set(f.message_id, new Map());
  const per = state.reportEvents.get(f.message_id);
  const seen = per.get(f.person_id) || {};
  seen[`${f.event}_at`] = f.at;
  per.set(f.person_id, seen);
  if (state.shownReport === f.message_id && state.reports.has(f.message_id)) renderReport();
}

function reportRows(id) {
  const report = state.reports.get(id);
  const events = state.reportEvents.get(id) || new Map();
  return report.recipients.map((r) => {
    const e = events.get(r.person_id) || {};
    return { ...r, delivered_at: r.delivered_at || e.delivered_at || null,
      read_at: r.read_at || e.read_at || e.acked_at || null, acked_at: r.acked_at || e.acked_at || null };
  });
}

function renderReport() {
  const id = state.shownReport;
  const rows = reportRows(id);
  const sent = state.sent.find((s) => s.id === id);
  $("report-subject").textContent = sent ? sent.subject : id;
  const n = (k) => rows.filter((r) => r[k]).length;
  const totals = $("report-totals");
  totals.dataset.messageId = id;
  totals.textContent = `Vastaanottajia ${rows.length} · toimitettu ${n("delivered_at")} · luettu ${n("read_at")} · kuitattu ${n("acked_at")}`;
  const cell = (field, at) => el("td", { "data-field": field, "data-done": at ? "true" : "false" }, fmtTime(at));
  $("report-rows").replaceChildren(...rows.map((r) =>
    el("tr", { "data-person-id": r.person_id },
      el("th", { scope: "row" }, r.name),
      cell("delivered", r.delivered_at), cell("read", r.read_at), cell("acked", r.acked_at))));
  $("report").hidden = false;
  $("report").dataset.messageId = id;
}

// ---- start -----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    login($("username").value.trim());
  });
  $("logout").addEventListener("click", () => logout());
  $("send-form").addEventListener("submit", onSend);
  $("draft-form").addEventListener("submit", (ev) => onDraft(ev, false));
  $("draft-roster").addEventListener("click", (ev) => onDraft(ev, true));
  $("solve-form").addEventListener("submit", onSolve);
  $("week-prev").addEventListener("click", () => showWeek(-7));
  $("week-next").addEventListener("click", () => showWeek(7));
  $("absence-form").addEventListener("submit", onAbsence);
  $("absence-school").addEventListener("change", () => loadTeachers().catch(showError));
  $("report-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    showReport($("report-id").value.trim());
  });
  loadDevLogins();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    state.token = saved;
    start().catch((e) => { if (state.token) showError(e); });
  }
});

// ---- timetable solves (principal, secretary) ------------------------------------------

const solves = new Map(); // solve id -> latest progress

async function onDraft(ev, fromRoster) {
  ev.preventDefault();
  showError(null);
  const file = $("draft-file").files[0];
  if (!file && !fromRoster) return;
  try {
    const body = { school_id: $("draft-school").value, name: fromRoster ? "ryhmistä" : file.name };
    if (fromRoster) body.from_roster = true; else body.fet = await file.text();
    const draft = await api("POST", "/v1/timetable/drafts", body);
    $("solve-draft").value = draft.id;
  } catch (err) { showError(err); }
}

async function onSolve(ev) {
  ev.preventDefault();
  showError(null);
  try {
    const body = { time_limit_s: Number($("solve-limit").value) || 60 };
    // a re-solve after a change: from an earlier solve's timetable, moving few lessons
    if ($("solve-from").value.trim()) body.from_solve = $("solve-from").value.trim();
    const s = await api("POST", `/v1/timetable/drafts/${$("solve-draft").value}/solves`, body);
    onSolveProgress({ solve_id: s.id, state: s.state });
  } catch (err) { showError(err); }
}

const SOLVE_FINAL = new Set(["solved", "incomplete", "infeasible", "stopped", "failed"]);

function onSolveProgress(data) {
  const prev = solves.get(data.solve_id) || {};
  const next = { ...prev, ...data };
  // a quick solve's live end can arrive before the answer to its POST
  // ("queued"): a final state is not taken back
  if (SOLVE_FINAL.has(prev.state) && !SOLVE_FINAL.has(data.state)) next.state = prev.state;
  solves.set(data.solve_id, next);
  renderSolves();
}

function renderSolves() {
  $("solve-list").replaceChildren(...[...solves.values()].map((s) => {
    const parts = [s.state];
    if (typeof s.elapsed_s === "number") parts.push(`${s.elapsed_s.toFixed(1)} s`);
    if (typeof s.soft === "number") parts.push(`pehmeät rikkeet ${s.soft.toFixed(2)}`);
    if (typeof s.hard === "number") parts.push(`kovat ${s.hard}`);
    if (s.phase) parts.push(s.phase);
    if (typeof s.moved === "number") parts.push(`siirtyi ${s.moved}`);
    if (s.error) parts.push(s.error); // why no timetable exists (state "infeasible")
    const stop = el("button", { type: "button" }, "Pysäytä");
    stop.hidden = !(s.state === "queued" || s.state === "running");
    stop.addEventListener("click", async () => {
      try {
        const v = await api("POST", `/v1/timetable/solves/${s.solve_id}/stop`); // a SolveView
        onSolveProgress({ solve_id: v.id, state: v.state, error: v.error });
      }
      catch (err) { showError(err); }
    });
    return el("li", { "data-solve": s.solve_id, "data-state": s.state },
      `${s.solve_id.slice(0, 8)}: ${parts.join(", ")} `, stop);
  }));
}

// ---- dates (ISO "YYYY-MM-DD" strings; arithmetic in UTC, so no time zone shifts a day) --

function parseDay(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || "");
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]) ? d : null;
}
const isoDay = (d) => d.toISOString().slice(0, 10);
function addDays(s, n) { const d = parseDay(s); d.setUTCDate(d.getUTCDate() + n); return isoDay(d); }
const weekday = (s) => (parseDay(s).getUTCDay() + 6) % 7; // 0 = Monday
const mondayOf = (s) => addDays(s, -weekday(s));
function browserToday() { const n = new Date(); return isoDay(new Date(Date.UTC(n.getFullYear(), n.getMonth(), n.getDate()))); }
function fmtDate(s) { const d = parseDay(s); return `${d.getUTCDate()}.${d.getUTCMonth() + 1}.`; }
const fmtDay = (s) => `${WEEKDAYS[weekday(s)]} ${fmtDate(s)}`;
const fmtHm = (t) => { const [h, m] = t.split(":"); return `${Number(h)}.${m}`; };
const fmtSpan = (a, b) => `${fmtHm(a)}–${fmtHm(b)}`;
function isoWeek(s) { // ISO 8601: the week holding the year's first Thursday is week 1
  const thursday = parseDay(addDays(mondayOf(s), 3));
  return 1 + Math.floor((thursday - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / 864e5 / 7);
}
// A school day: a Saturday or Sunday becomes the next Monday.
const schoolDay = (s) => (weekday(s) >= 5 ? addDays(s, 7 - weekday(s)) : s);

// ---- Lukujärjestys: my week, or my children's (GET /v1/timetable/me) ---------------------

const week = {
  today: null,   // the app's "today": ?date= of the URL, else from the server's week
  monday: null,  // the week shown
  data: null,    // the last answer for it
  shown: false,  // the panel stays once it had something, so empty weeks can be browsed
  gen: 0,        // only the latest load renders (navigation and live reloads race)
};

async function loadWeek(monday) {
  const gen = ++week.gen;
  // Without a range the server answers its own clock's week (Monday to Sunday).
  const path = monday ? `/v1/timetable/me?from=${monday}&to=${addDays(monday, 4)}` : "/v1/timetable/me";
  const t = await api("GET", path);
  if (gen !== week.gen) return null;
  week.monday = t.from;
  week.data = t;
  week.shown = week.shown || t.lessons.length > 0 || t.children.some((c) => c.lessons.length > 0);
  renderWeek();
  return t;
}

async function startWeek() {
  const asked = parseDay(new URLSearchParams(location.search).get("date"));
  if (asked) {
    week.today = isoDay(asked);
    await loadWeek(mondayOf(week.today));
    return;
  }
  week.today = browserToday();
  const t = await loadWeek(null);
  // The server's clock decides the week; the browser's only which day of it is today.
  if (t && !(t.from <= week.today && week.today <= t.to)) { week.today = t.from; renderWeek(); }
}

function showWeek(days) {
  if (!week.monday) return;
  showError(null);
  loadWeek(addDays(week.monday, days)).catch(showError);
}

function reloadWeek() { if (week.monday) loadWeek(week.monday).catch(showError); }

function renderWeek() {
  const t = week.data;
  $("week").hidden = !week.shown;
  $("week").dataset.monday = week.monday;
  $("week-range").textContent =
    `Viikko ${isoWeek(week.monday)}: ${fmtDate(week.monday)}–${fmtDate(addDays(week.monday, 4))}${parseDay(week.monday).getUTCFullYear()}`;
  const blocks = [];
  if (t.lessons.length || !t.children.length) {
    blocks.push(weekBlock(t.children.length ? "Omat tunnit" : null, null, t.lessons));
  }
  for (const c of t.children) blocks.push(weekBlock(c.given_name, c.learner_id, c.lessons));
  $("week-body").replaceChildren(...blocks);
}

function weekBlock(title, learnerId, lessons) {
  const days = [0, 1, 2, 3, 4].map((n) => addDays(week.monday, n));
  return el("section", { class: "week-of", "data-learner-id": learnerId },
    title ? el("h3", {}, title) : null,
    el("div", { class: "days" }, ...days.map((d) => {
      const mine = lessons.filter((x) => x.date === d);
      return el("div", { class: d === week.today ? "day today" : "day", "data-date": d },
        el("h4", {}, fmtDay(d)),
        mine.length ? el("ol", { class: "lessons" }, ...mine.map(lessonItem)) : el("p", { class: "muted" }, "Ei tunteja"));
    })));
}

const FLAGS = { cancelled: "peruttu", moved: "siirretty", substituted: "sijainen", extra: "lisätunti", programme: "ohjelma" };

function lessonItem(x) {
  // A programme day's own entry names the programme; a lesson it replaces keeps its subject.
  const what = x.status === "programme" && !x.lesson_id ? (x.title || "Erityisohjelma") : x.subject;
  const detail = [x.group_name, x.room, x.teachers.join(", ")].filter(Boolean).join(" · ");
  const o = x.original;
  const was = o ? [fmtSpan(o.starts, o.ends), o.room, o.teachers.join(", ")].filter(Boolean).join(", ") : "";
  return el("li", { class: "lesson", "data-status": x.status, "data-date": x.date, "data-lesson-id": x.lesson_id },
    el("p", {}, el("span", { class: "when" }, fmtSpan(x.starts, x.ends)), " ",
      el("span", { class: "what" }, what),
      FLAGS[x.status] ? el("span", { class: "flag" }, FLAGS[x.status]) : null),
    detail ? el("p", { class: "detail" }, detail) : null,
    was ? el("p", { class: "was" }, `alun perin ${was}`) : null,
    x.status === "programme" && x.lesson_id ? el("p", { class: "note" }, `ei pidetä: ${x.title || "erityisohjelma"}`) : null,
    x.note ? el("p", { class: "note" }, x.note) : null);
}

// ---- Sijaisuudet: absences and substitutes (principal, secretary) -------------------------

const subs = {
  names: new Map(), // teacher id -> name, of the school's teachers and proposals seen
  absence: null,    // the absence shown (GET /v1/timetable/absences/{id})
  result: "",       // what the last confirmation did
};

function schedulerSchools() {
  const roles = state.me ? state.me.person.roles : [];
  return [...new Set(roles.filter((r) => SCHEDULERS.has(r.role)).map((r) => r.school_id))];
}

async function startSubs() {
  const schools = schedulerSchools();
  $("subs").hidden = !schools.length;
  if (!schools.length) return;
  const names = new Map((await api("GET", "/v1/schools")).map((s) => [s.id, s.name]));
  $("absence-school").replaceChildren(...schools.map((id) => el("option", { value: id }, names.get(id) || id)));
  for (const o of $("draft-school").options) o.textContent = names.get(o.value) || o.value;
  $("absence-school-field").hidden = schools.length < 2;
  $("absence-date").value = schoolDay(week.today || browserToday());
  await loadTeachers();
}

async function loadTeachers() {
  const school = $("absence-school").value;
  const list = await api("GET", `/v1/timetable/teachers?school_id=${encodeURIComponent(school)}`);
  if ($("absence-school").value !== school) return;
  for (const t of list) subs.names.set(t.id, t.name);
  $("absence-teacher").replaceChildren(...list.map((t) => el("option", { value: t.id }, t.name)));
}

async function onAbsence(ev) {
  ev.preventDefault();
  showError(null);
  const day = $("absence-date").value;
  const button = $("absence-submit");
  button.disabled = true;
  try {
    subs.absence = await api("POST", "/v1/timetable/absences", {
      school_id: $("absence-school").value, teacher_id: $("absence-teacher").value, starts: day, ends: day,
    });
    subs.result = "";
    renderAbsence();
  } catch (e) { showError(e); } finally { button.disabled = false; }
}

async function confirmSubstitute(lesson, proposal) {
  showError(null);
  const id = subs.absence.id;
  for (const b of $("absence-lessons").querySelectorAll("button")) b.disabled = true;
  try {
    const made = await api("POST", `/v1/timetable/absences/${id}/substitutes`, {
      lesson_id: lesson.lesson_id, date: lesson.date, substitute_id: proposal.teacher_id,
    });
    const n = made.notices[lesson.date];
    subs.result = `${fmtDay(lesson.date)} ${lesson.subject}: sijaisena ${proposal.name}. ` +
      `Ilmoitus lähti ${n ? n.notified : 0} henkilölle.`;
    subs.absence = await api("GET", `/v1/timetable/absences/${id}`);
  } catch (e) { showError(e); }
  if (subs.absence && subs.absence.id === id) renderAbsence();
}

function renderAbsence() {
  const a = subs.absence;
  for (const l of a.lessons) for (const p of l.proposals) subs.names.set(p.teacher_id, p.name);
  const who = subs.names.get(a.teacher_id) || a.teacher_id;
  const when = a.starts === a.ends ? `${fmtDay(a.starts)}${a.starts.slice(0, 4)}` : `${fmtDay(a.starts)}–${fmtDay(a.ends)}${a.ends.slice(0, 4)}`;
  $("absence-title").textContent = `${who} poissa ${when}`;
  $("absence-result").textContent = subs.result;
  const items = a.lessons.map((l) => {
    const x = l.lesson;
    const li = el("li", { "data-lesson-id": x.lesson_id, "data-date": x.date, "data-covered": l.substitute_id ? "true" : "false" },
      el("p", {}, `${fmtDay(x.date)} ${fmtSpan(x.starts, x.ends)} `, el("strong", {}, x.subject),
        l.group_name ? `, ${l.group_name}` : "", x.room ? ` (${x.room})` : ""));
    if (l.substitute_id) {
      li.append(el("p", { class: "covered" }, `Sijaisena ${subs.names.get(l.substitute_id) || l.substitute_id}`));
    } else if (x.status === "cancelled") {
      li.append(el("p", { class: "muted" }, "Tunti on peruttu."));
    } else if (!l.proposals.length) {
      li.append(el("p", { class: "muted" }, "Ei vapaita sijaisia."));
    } else {
      li.append(el("ol", { class: "proposals" }, ...l.proposals.map((p) => el("li", { "data-teacher-id": p.teacher_id },
        el("span", { class: "name" }, p.name),
        p.qualified ? el("span", { class: "qualified" }, "pätevä") : null,
        el("span", { class: "muted" }, `sijaisuuksia ${p.substitutions}, tunteja päivänä ${p.lessons_that_day}`),
        el("button", { type: "button", class: "chip", onclick: () => confirmSubstitute(x, p) }, "Vahvista")))));
    }
    return li;
  });
  $("absence-lessons").replaceChildren(...items);
  if (!items.length) $("absence-lessons").append(el("li", { class: "muted" }, "Ei oppitunteja poissaolon aikana."));
  $("absence").hidden = false;
}
