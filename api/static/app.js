// rvrota pages: a small client of /api/v1. The token stays in this tab's sessionStorage.
"use strict";

const API = "/api/v1";
const HOME = { dispatcher: "/board", site_manager: "/site", driver: "/driver" };

// Ids stay ids; what people read comes from the catalogues (fleet/locale, "page.*"), in the
// user's language or in Chinese and English side by side (the #words block of the page).
const WORDS = (() => {
  try { return JSON.parse(document.getElementById("words").textContent); } catch (e) { return { lang: null, words: {} }; }
})();
const LANG = WORDS.lang === "zh" || WORDS.lang === "en" ? WORDS.lang : null;

// one text of the catalogue in [Chinese, English]; a value may itself be such a pair
function P(key, values) {
  const pair = WORDS.words[key] || [key, key];
  return pair.map((text, side) => text.replace(/\{(\w+)\}/g, (m, name) => {
    if (!values || !(name in values)) return m;
    const v = values[name];
    return String(Array.isArray(v) ? v[side] : v);
  }));
}
// the page's words: the user's language, or both ("中文 English")
function W(key, values) { return pick(P(key, values)); }
function pick(pair) { return LANG === "zh" ? pair[0] : LANG === "en" ? pair[1] : pair[0] + " " + pair[1]; }
// for cramped cells: one language (Chinese when both are shown)
function W1(key, values) { const pair = P(key, values); return LANG === "en" ? pair[1] : pair[0]; }
function has(key) { return key in WORDS.words; }
// a text the server made (already in the page's language, or in both) inside a sentence of
// the page: with both languages shown, the two labels and the server's text once
function WS(key, name, text) {
  if (LANG) return W(key, { [name]: text });
  const [zh, en] = P(key, { [name]: "\u0001" });
  return zh.replace("\u0001", "").trim() + " " + en.replace("\u0001", text);
}

function statusText(s) { return has("vstatus." + s) ? W("vstatus." + s) : s; }
function stateText(s) { return has("state." + s) ? W("state." + s) : s; }
// "2026-11-27T18:00:00+08:00" -> "11-27 18:00" (the region's wall clock, as sent)
function shortTime(iso) { return iso ? iso.slice(5, 10) + " " + iso.slice(11, 16) : ""; }

function token() { return sessionStorage.getItem("rvrota.token"); }

function say(text, bad) {
  const el = document.getElementById("message");
  if (!el) return;
  el.textContent = text;
  el.className = "message" + (bad ? " bad" : " good");
}

function errorText(body, status) {
  if (body && body.code === "offline") return W("js.offline_nothing"); // driver_sw.js
  if (body && body.message && (LANG || !Array.isArray(body.detail))) return body.message; // the caller's words
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
  }
  return (body && body.detail) || "HTTP " + status;
}

async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({ Authorization: "Bearer " + token(), "Accept-Language": LANG || "*" }, extraHeaders || {});
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, init);
  if (res.status === 401) {
    sessionStorage.removeItem("rvrota.token");
    location.href = "/login";
    throw new Error("not signed in");
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error(errorText(data, res.status));
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function idemKey() {
  return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
}

// --- login --------------------------------------------------------------------------------

function initLogin() {
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new URLSearchParams(new FormData(ev.target));
    const res = await fetch(API + "/auth/token", { method: "POST", body: form });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { say(WS("login.failed", "why", errorText(data, res.status)), true); return; }
    sessionStorage.setItem("rvrota.token", data.access_token);
    // what a driver page kept offline belongs to whoever signed in before
    if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage("forget");
    location.href = HOME[data.role] || "/login";
  });
}

// --- dispatcher board ---------------------------------------------------------------------

const board = { week: null, version: null, schedule: null, plan: null, versions: [] };
function planStatus(id) { return has("plan." + id) ? P("plan." + id) : [id, id]; }

function utcDate(iso) { const [y, m, d] = iso.slice(0, 10).split("-").map(Number); return new Date(Date.UTC(y, m - 1, d)); }
function isoDate(d) { return d.toISOString().slice(0, 10); }
function addDays(d, n) { return new Date(d.getTime() + n * 86400000); }
function weekdayOf(d) { return P("weekday." + ((d.getUTCDay() + 6) % 7)); }
function isoWeek(d) {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7)); // the Thursday of its week
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return year + "-W" + String(week).padStart(2, "0");
}
function slotWords(id) { return has("slot." + id) ? P("slot." + id) : [id, id]; }
function stateWords(id) { return has("state." + id) ? P("state." + id) : [id, id]; }
function shortDate(d) { return (d.getUTCMonth() + 1) + "/" + d.getUTCDate(); }
// a visit's date and slot as [Chinese, English]; .text in the page's words
function visitWords(v) {
  const d = utcDate(v.date);
  const pair = P("js.visit_when", { date: shortDate(d), weekday: weekdayOf(d), slot: slotWords(v.slot) });
  return { pair, text: pick(pair), date: shortDate(d) };
}
function fmt(n, digits) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: digits }); }

// "within 0.1% of the best possible week", rounded up so that it stays true
function bestWords(stats) {
  const gap = stats ? stats.gap : null;
  if (gap === null || gap === undefined) return { value: "–", pair: P("js.best_none") };
  if (gap <= 0) return { value: W1("js.best_value"), pair: P("js.best") };
  const pct = Math.ceil(gap * 1000) / 10;
  return { value: pct + "%", pair: P("js.best_within", { pct }) };
}

function statsSentence(stats, sessions) {
  return W("js.stats", { workers: fmt(stats.workers_reached, 0), km: fmt(stats.km, 1), visits: fmt(stats.sessions ?? sessions, 0), best: bestWords(stats).pair });
}

async function loadBoard() {
  const ticket = (board.ticket = (board.ticket || 0) + 1);
  const q = board.week ? "?week=" + encodeURIComponent(board.week) : "";
  const sched = await api("GET", "/schedule" + q);
  if (ticket !== board.ticket) return; // a newer load (another week) is under way: it wins
  board.schedule = sched;
  board.week = sched.week;
  document.getElementById("week").value = sched.week;
  const first = utcDate(sched.start_date), last = addDays(first, sched.days - 1);
  document.getElementById("week-dates").textContent = isoDate(first) + " – " + isoDate(last);
  drawGrid(sched);
  const where = "week=" + sched.week + "&region=" + encodeURIComponent(sched.region);
  try { board.plan = await api("GET", "/plans/current?" + where); } catch (e) { board.plan = null; }
  drawPlan(board.plan);
  board.versions = await api("GET", "/plans?" + where);
  drawVersions(board.versions);
  const v = await api("GET", "/schedule/version?" + where);
  board.version = v.changed;
}

function columnsOf(sched) {
  const cols = [];
  const start = utcDate(sched.start_date);
  for (let d = 0; d < sched.days; d++) {
    const date = isoDate(addDays(start, d));
    for (const slot of sched.slots) cols.push({ day: d, date, slot, from: date + "T" + slot.start, to: date + "T" + slot.end });
  }
  return cols;
}

function drawGrid(sched) {
  const table = document.getElementById("grid");
  const thead = table.tHead, tbody = table.tBodies[0];
  thead.replaceChildren(); tbody.replaceChildren();
  const cols = columnsOf(sched);
  const now = (sched.now || "").slice(0, 16); // local "YYYY-MM-DDTHH:MM" in the region's zone
  const nowIndex = cols.findIndex((c) => c.to > now);
  const nowCol = nowIndex >= 0 && cols[0].date + "T00:00" <= now ? nowIndex : -1; // this week only
  const start = utcDate(sched.start_date);
  const top = el("tr", {}, el("th", { rowSpan: 2, class: "rv", scope: "col" }, W("board.rv")));
  const second = el("tr");
  for (let d = 0; d < sched.days; d++) {
    const date = addDays(start, d);
    top.append(el("th", { colSpan: sched.slots.length, class: "day", scope: "colgroup", "data-date": isoDate(date) }, W("js.day_head", { date: shortDate(date), weekday: weekdayOf(date) })));
  }
  cols.forEach((c, i) => {
    const th = el("th", { class: "slot", scope: "col" }, pick(slotWords(c.slot.id)) + " " + c.slot.start);
    if (i === nowCol) { th.classList.add("now-col"); th.append(el("span", { class: "now-mark" }, " " + W("js.now", { time: now.slice(11, 16) }))); }
    second.append(th);
  });
  thead.append(top, second);
  table.style.minWidth = (4.5 + cols.length * 4.6) + "rem"; // narrow screens scroll, the RV column stays
  const cells = new Map();
  const busy = new Set();
  for (const s of sched.sessions) { cells.set(s.vehicle + "|" + s.day + "|" + s.slot, s); busy.add(s.vehicle); }
  const states = new Map((sched.vehicle_states || []).map((st) => [st.id, st]));
  for (const v of sched.vehicles) {
    const st = states.get(v);
    const head = el("th", { scope: "row", class: "rv" }, el("b", {}, v));
    if (st) {
      const line = el("span", { class: "vstatus" + (st.unavailable ? " out" : ""), "data-status": st.status }, statusText(st.status));
      if (st.unavailable && st.unavailable_until) line.append(" · " + W("js.until", { time: shortTime(st.unavailable_until) }));
      if (st.late_minutes !== null && st.late_minutes !== undefined) line.append(" · " + W("js.late", { minutes: st.late_minutes }));
      head.append(line);
    }
    const row = el("tr", { "data-vehicle": v }, head);
    if (!busy.has(v)) {
      row.append(el("td", { class: "empty-row", colSpan: cols.length }, emptyReason(st)));
      tbody.append(row);
      continue;
    }
    cols.forEach((c, i) => {
      const td = el("td", { class: "cell", "data-day": String(c.day), "data-slot": c.slot.id });
      if (i === nowCol) td.classList.add("now-col");
      const past = c.to <= now;
      if (past) td.classList.add("past");
      const s = cells.get(v + "|" + c.day + "|" + c.slot.id);
      if (s) drawSession(td, s, past);
      row.append(td);
    });
    tbody.append(row);
  }
  table.dispatchEvent(new CustomEvent("grid-drawn", { detail: sched })); // hand edits (edits.js)
}

function emptyReason(st) {
  if (st && st.unavailable) {
    const status = has("vstatus." + st.status) ? P("vstatus." + st.status) : [st.status, st.status];
    let text = W("js.out_of_service", { status });
    if (st.note) text += " · " + st.note;
    text += " · " + (st.unavailable_until ? W("js.back_at", { time: shortTime(st.unavailable_until) }) : W("js.back_unknown"));
    return text;
  }
  return W("js.no_sessions");
}


function drawSession(td, s, past) {
  td.classList.add("busy", "state-" + s.state);
  td.setAttribute("data-session", s.id);
  const name = s.site_name || s.site, when = visitWords(s);
  const unreported = past && (s.state === "planned" || s.state === "confirmed");
  if (unreported) td.classList.add("unreported");
  const pin = el("button", { type: "button", class: "pin" + (s.pinned ? " on" : "") }, s.pinned ? "★" : "☆");
  pin.setAttribute("aria-pressed", String(s.pinned));
  pin.setAttribute("aria-label", W(s.pinned ? "js.unpin" : "js.pin", { site: name, when: when.pair }));
  pin.title = pin.getAttribute("aria-label");
  pin.addEventListener("click", () => togglePin(s));
  td.append(el("span", { class: "site" }, name),
            el("span", { class: "heads" }, W1("js.heads", { count: s.headcount ?? "–" }) + " "),
            el("span", { class: "state" }, unreported ? W("js.not_reported") : pick(stateWords(s.state))), pin);
}

function drawPlan(plan) {
  const stats = plan ? plan.stats : null;
  document.getElementById("stat-workers").textContent = stats ? fmt(stats.workers_reached, 0) : "–";
  document.getElementById("stat-km").textContent = stats ? fmt(stats.km, 1) : "–";
  document.getElementById("stat-sessions").textContent = stats ? fmt(stats.sessions ?? plan.sessions, 0) : "–";
  const best = bestWords(stats);
  document.getElementById("stat-best").textContent = best.value;
  document.getElementById("stat-best-words").textContent = pick(best.pair);
  document.getElementById("plan-version").textContent = plan ? W("js.version_of", { version: plan.version, status: planStatus(plan.status) }) : W("js.no_plan");
  const ul = document.getElementById("unserved");
  ul.replaceChildren();
  const unserved = plan ? plan.unserved : [];
  unserved.forEach((u, i) => {
    const item = el("li", { "data-site": u.site, "data-reason": u.code || "" }, el("b", {}, u.site_name || u.site), " ", u.reason);
    if (i >= PRINT_UNSERVED) item.classList.add("print-hidden");
    ul.append(item);
  });
  const more = document.getElementById("unserved-more");
  more.hidden = unserved.length <= PRINT_UNSERVED;
  more.textContent = more.hidden ? "" : W("js.unserved_more", { count: unserved.length - PRINT_UNSERVED });
}

// on paper the first unserved sites only, then "and N more": the week stays on one A4 page
const PRINT_UNSERVED = 16;

function localTime(iso, tz) {
  return new Date(iso).toLocaleString(LANG === "en" ? "en-GB" : "zh-CN", { timeZone: tz, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
}

function drawVersions(versions) {
  const ol = document.getElementById("versions");
  ol.replaceChildren();
  const inForce = versions.find((v) => v.in_force);
  if (!versions.length) ol.append(el("li", {}, W("js.no_versions")));
  for (const v of versions) {
    const status = v.in_force ? P("plan.in_force") : planStatus(v.status);
    const li = el("li", { class: "version" + (v.in_force ? " in-force" : ""), "data-plan": String(v.id) },
      el("b", {}, W("js.version", { version: v.version })), " · " + pick(status) + " · " + localTime(v.created_at, board.schedule.timezone),
      el("div", { class: "trigger" }, WS("js.cause", "cause", v.cause || v.trigger || "—")),
      el("div", { class: "muted" }, statsSentence(v.stats, v.sessions)));
    if (inForce && !v.in_force) {
      const b = el("button", { type: "button", class: "compare" }, W("js.compare"));
      b.setAttribute("aria-label", W("js.compare_label", { version: v.version }));
      b.addEventListener("click", () => showDiff(v, inForce).catch((e) => say(e.message, true)));
      li.append(b);
    }
    ol.append(li);
  }
}

// a diff's summary, stats and changes per RV into the elements "<prefix>-summary", "-stats", "-vehicles"
function drawDiffBody(d, prefix) {
  document.getElementById(prefix + "-summary").textContent = W("js.diff_summary", { added: d.added.length, removed: d.removed.length, moved: d.moved.length, unchanged: d.unchanged });
  const stats = document.getElementById(prefix + "-stats");
  stats.replaceChildren();
  for (const [key, digits] of [["workers_reached", 0], ["km", 1], ["sessions", 0]]) {
    const s = d.stats[key];
    if (!s) continue;
    const change = s.change === null ? "" : " (" + (s.change > 0 ? "+" : "") + fmt(s.change, digits) + ")";
    stats.append(el("li", { "data-stat": key }, W("js.stat." + key) + ": " + fmt(s.before, digits) + " → " + fmt(s.after, digits) + change));
  }
  const bBefore = bestWords({ gap: d.stats.gap ? d.stats.gap.before : null }), bAfter = bestWords({ gap: d.stats.gap ? d.stats.gap.after : null });
  stats.append(el("li", { "data-stat": "best" }, pick([bBefore.pair[0] + " → " + bAfter.pair[0], bBefore.pair[1] + " → " + bAfter.pair[1]])));
  const vehicles = document.getElementById(prefix + "-vehicles");
  vehicles.replaceChildren();
  const siteName = (v) => v.site_name || v.site;
  for (const [vehicle, ch] of Object.entries(d.by_vehicle)) {
    const ul = el("ul");
    for (const v of ch.added) ul.append(el("li", { class: "added" }, W("js.added", { site: siteName(v), when: visitWords(v).pair })));
    for (const v of ch.removed) ul.append(el("li", { class: "removed" }, W("js.removed", { site: siteName(v), when: visitWords(v).pair })));
    for (const m of ch.moved) {
      const a = visitWords(m.from).pair, b = visitWords(m.to).pair;
      const from = [m.from.vehicle + " " + a[0], m.from.vehicle + " " + a[1]], to = [m.to.vehicle + " " + b[0], m.to.vehicle + " " + b[1]];
      ul.append(el("li", { class: "moved" }, W("js.moved", { site: siteName(m.to), from, to })));
    }
    vehicles.append(el("div", { class: "diff-vehicle", "data-vehicle": vehicle }, el("h4", {}, W("js.rv", { vehicle })), ul));
  }
}

async function showDiff(chosen, inForce) {
  // always from the older version to the newer one
  const [older, newer] = chosen.version < inForce.version ? [chosen, inForce] : [inForce, chosen];
  const d = await api("GET", "/plans/" + newer.id + "/diff?against=" + older.id);
  const box = document.getElementById("diff");
  box.hidden = false;
  document.getElementById("diff-title").textContent = W("js.diff_title", { from: older.version, to: newer.version });
  drawDiffBody(d, "diff");
  box.scrollIntoView({ block: "nearest" });
}

async function togglePin(s) {
  try {
    await api("PATCH", "/sessions/" + s.id, { pinned: !s.pinned });
    say(W(s.pinned ? "js.unpinned" : "js.pinned", { vehicle: s.vehicle, site: s.site_name || s.site }));
    await loadBoard();
  } catch (e) { say(e.message, true); }
}

async function download(format) {
  const sched = board.schedule;
  const path = "/schedule/export?format=" + format + "&week=" + sched.week + "&region=" + encodeURIComponent(sched.region);
  const res = await fetch(API + path, { headers: { Authorization: "Bearer " + token(), "Accept-Language": LANG || "*" } });
  if (!res.ok) throw new Error(errorText(await res.json().catch(() => null), res.status));
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: "rvrota-" + sched.region + "-" + sched.week + "." + format });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  say(W("js.exported", { format: format.toUpperCase() }));
}

async function pollBoard() {
  if (!board.schedule) return;
  try {
    const v = await api("GET", "/schedule/version?week=" + board.week + "&region=" + board.schedule.region);
    if (v.changed !== board.version) { await loadBoard(); say(W("js.plan_updated")); }
  } catch (e) { /* keep polling */ }
}

const TOPICS = ["rvrota.site-headcounts", "rvrota.vehicle-status", "rvrota.plan-requests"];

function topicName(topic) {
  for (const name of TOPICS) if (topic === name || topic.endsWith("." + name)) return W("topic." + name);
  return topic;
}

async function loadDeadLetters() {
  const letters = await api("GET", "/dead-letters?limit=50");
  const tbody = document.querySelector("#dead-letters tbody");
  tbody.replaceChildren();
  document.getElementById("dead-letters-none").hidden = letters.length > 0;
  for (const d of letters) {
    const when = new Date(d.rejected_at).toLocaleString(LANG === "en" ? "en-GB" : "zh-CN", { dateStyle: "short", timeStyle: "short" });
    const text = d.original_text.length > 160 ? d.original_text.slice(0, 160) + "…" : d.original_text;
    const cell = el("td");
    if (d.truncated) cell.append(el("span", { class: "muted" }, W("js.too_large")));
    else {
      const button = el("button", { type: "button", class: "replay" }, W("js.replay"));
      button.addEventListener("click", () => replayLetter(d));
      cell.append(button);
    }
    if (d.replays) cell.append(el("span", { class: "muted" }, " " + W("js.replayed_times", { count: d.replays })));
    tbody.append(el("tr", { "data-letter": String(d.id) }, el("td", {}, when), el("td", {}, topicName(d.topic)),
      el("td", {}, d.field), el("td", {}, d.reason), el("td", {}, el("code", {}, text)), cell));
  }
}

async function replayLetter(d) {
  try {
    await api("POST", "/dead-letters/" + d.id + "/replay");
    say(W("js.replayed", { topic: topicName(d.topic), field: d.field }));
    await loadDeadLetters();
  } catch (e) { say(e.message, true); }
}

function goToWeek(week) {
  board.week = week;
  document.getElementById("diff").hidden = true;
  loadBoard().catch((e) => say(e.message, true));
}

function initBoard() {
  document.getElementById("replan").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/plans", { week: board.week, region: board.schedule && board.schedule.region }, { "Idempotency-Key": idemKey() });
      say(W("js.replan_requested", { id: r.event_id.slice(0, 8) }));
    } catch (e) { say(e.message, true); }
  });
  const step = (days) => () => { if (board.schedule) goToWeek(isoWeek(addDays(utcDate(board.schedule.start_date), days))); };
  document.getElementById("week-prev").addEventListener("click", step(-7));
  document.getElementById("week-next").addEventListener("click", step(7));
  document.getElementById("week-this").addEventListener("click", () => goToWeek(null));
  document.getElementById("week").addEventListener("change", (ev) => goToWeek(ev.target.value || null));
  document.getElementById("export-csv").addEventListener("click", () => download("csv").catch((e) => say(e.message, true)));
  document.getElementById("export-xlsx").addEventListener("click", () => download("xlsx").catch((e) => say(e.message, true)));
  document.getElementById("print").addEventListener("click", () => window.print());
  loadBoard().catch((e) => say(e.message, true));
  loadDeadLetters().catch((e) => say(e.message, true));
  setInterval(pollBoard, 3000);
}

// --- site manager -------------------------------------------------------------------------

async function loadVisits(siteId) {
  const ul = document.getElementById("visits");
  ul.replaceChildren();
  const visits = await api("GET", "/sites/" + encodeURIComponent(siteId) + "/visits");
  if (!visits.length) ul.append(el("li", {}, W("js.no_visits")));
  for (const v of visits) {
    const li = el("li", { class: "visit", "data-session": v.session_id }, el("b", {}, v.date + " " + pick(slotWords(v.slot))), " " + v.start.slice(11, 16) + "–" + v.end.slice(11, 16) + " · " + W("js.rv", { vehicle: v.vehicle }) + " · " + stateText(v.state));
    if (v.late_minutes !== null && v.late_minutes !== undefined) {
      li.append(" ", el("span", { class: "late" }, W("js.rv_late", { minutes: v.late_minutes })));
    }
    ul.append(li);
  }
  ul.dispatchEvent(new CustomEvent("visits-drawn", { detail: { site: siteId, visits } })); // edits.js
}

async function initSite(me) {
  const select = document.getElementById("site-select");
  for (const id of me.sites) {
    let label = id;
    try { const s = await api("GET", "/sites/" + encodeURIComponent(id)); label = (s.name || id) + " (" + id + ")"; } catch (e) { /* keep id */ }
    select.append(el("option", { value: id }, label));
  }
  select.addEventListener("change", () => loadVisits(select.value).catch((e) => say(e.message, true)));
  if (me.sites.length) await loadVisits(me.sites[0]);
  await loadChanges();
  followChanges(async () => { await loadChanges(); if (select.value) await loadVisits(select.value); });
  document.getElementById("headcount-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { count: Number(document.getElementById("count").value) };
    const shift = document.getElementById("shift").value;
    if (shift) body.shift = shift;
    try {
      const r = await api("POST", "/sites/" + encodeURIComponent(select.value) + "/headcounts", body, { "Idempotency-Key": idemKey() });
      say(W("js.posted", { count: body.count, id: r.event_id.slice(0, 8) }));
    } catch (e) { say(e.message, true); }
  });
}

// --- driver -------------------------------------------------------------------------------

const driver = { vehicle: null, offset: null };

function utcOffset() {
  if (driver.offset) return driver.offset;  // the region's offset, from the next stop
  const m = -new Date().getTimezoneOffset(), a = Math.abs(m);
  return (m >= 0 ? "+" : "-") + String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
}

async function loadNextStop(vehicle) {
  try {
    const n = await api("GET", "/vehicles/" + encodeURIComponent(vehicle) + "/next-stop");
    const offset = /([+-]\d{2}:\d{2})$/.exec(n.start);
    if (offset) driver.offset = offset[1];
    document.getElementById("stop-site").textContent = n.site.name || n.site.id;
    // times carry the region's offset: show them as they are, whatever the phone's zone
    document.getElementById("stop-window").textContent = n.start.slice(5, 10) + " " + pick(slotWords(n.slot)) + " " + n.start.slice(11, 16) + "–" + n.end.slice(11, 16) + " · " + stateText(n.state);
    document.getElementById("stop-address").textContent = n.site.address || n.site.lat.toFixed(5) + ", " + n.site.lon.toFixed(5);
    document.getElementById("link-amap").href = n.links.amap;
    document.getElementById("link-baidu").href = n.links.baidu;
    document.getElementById("link-geo").href = n.links.geo;
  } catch (e) {
    document.getElementById("stop-site").textContent = W("js.no_next_stop");
  }
}

async function loadTodayStops(vehicle) {
  // today's stops of this RV, in the region's day (kept by the service worker for offline)
  const list = document.getElementById("today-stops");
  if (!list) return;
  try {
    const v = await api("GET", "/vehicles/" + encodeURIComponent(vehicle));
    const s = await api("GET", "/schedule?region=" + encodeURIComponent(v.region));
    const today = s.now.slice(0, 10);
    const mine = s.sessions.filter((x) => x.vehicle === vehicle && x.date === today)
      .sort((a, b) => (a.start < b.start ? -1 : 1));
    const items = mine.map((x) => {
      const li = document.createElement("li");
      li.setAttribute("data-state", x.state);
      li.textContent = x.start.slice(11, 16) + "–" + x.end.slice(11, 16) + " " + (x.site_name || x.site) + " · " + stateText(x.state);
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = W("js.no_stops_today");
      items.push(li);
    }
    list.replaceChildren(...items);
  } catch (e) { /* keep the last list */ }
}

async function loadVehicleStatus(vehicle) {
  const line = document.getElementById("vehicle-status");
  try {
    const v = await api("GET", "/vehicles/" + encodeURIComponent(vehicle));
    let text = W("js.status_now", { status: statusText(v.status) });
    if (v.unavailable_until) text += " · " + W("js.back_at", { time: v.unavailable_until.slice(0, 16).replace("T", " ") });
    line.textContent = text;
    line.setAttribute("data-status", v.status);
  } catch (e) { /* keep the last line */ }
}

async function sendStatus(body, label) {
  const r = await api("POST", "/vehicles/" + encodeURIComponent(driver.vehicle) + "/status", body, { "Idempotency-Key": idemKey() });
  say(W("js.reported", { what: label, id: r.event_id.slice(0, 8) }));
  setTimeout(() => { loadNextStop(driver.vehicle); loadVehicleStatus(driver.vehicle); loadTodayStops(driver.vehicle); }, 1500);
}

function hideForms() { for (const f of document.querySelectorAll("form.status-form")) f.hidden = true; }

function initDriver(me) {
  if (!me.vehicle) { say(W("js.no_vehicle"), true); return; }
  driver.vehicle = me.vehicle;
  loadNextStop(me.vehicle);
  loadVehicleStatus(me.vehicle);
  loadTodayStops(me.vehicle);
  loadChanges().catch((e) => say(e.message, true));
  followChanges(async () => { await loadNextStop(me.vehicle); await loadTodayStops(me.vehicle); await loadChanges(); });
  setInterval(() => { loadNextStop(me.vehicle); loadVehicleStatus(me.vehicle); loadTodayStops(me.vehicle); }, 30000);
  for (const button of document.querySelectorAll("button.status")) {
    button.addEventListener("click", async () => {
      const form = button.getAttribute("data-form");
      if (form) {  // these ask for details and a confirmation before anything is sent
        hideForms();
        const f = document.getElementById(form);
        const kind = button.getAttribute("data-outage");
        if (kind) {
          f.setAttribute("data-outage", kind);
          document.getElementById("outage-title").textContent = W("js.report_q", { status: P("vstatus." + kind) });
        }
        f.hidden = false;
        f.querySelector("input").focus();
        return;
      }
      hideForms();
      try { await sendStatus({ status: button.getAttribute("data-status") }, button.textContent); } catch (e) { say(e.message, true); }
    });
  }
  for (const cancel of document.querySelectorAll("form.status-form button.cancel")) {
    cancel.addEventListener("click", () => { hideForms(); say(W("js.not_sent")); });
  }
  document.getElementById("late-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const minutes = Number(document.getElementById("late-minutes").value);
    try {
      await sendStatus({ status: "en_route", late_minutes: minutes }, W("js.late_minutes", { minutes }));
      hideForms();
    } catch (e) { say(e.message, true); }
  });
  document.getElementById("outage-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const kind = f.getAttribute("data-outage");
    const until = document.getElementById("outage-until").value + ":00" + utcOffset();
    const note = document.getElementById("outage-reason").value.trim();
    try {
      await sendStatus({ status: kind, note, until }, statusText(kind));
      hideForms();
    } catch (e) { say(e.message, true); }
  });
}

// --- what changed since you last looked (site managers and drivers) -----------------------

async function loadChanges() {
  const ul = document.getElementById("changes");
  if (!ul) return;
  const data = await api("GET", "/me/notifications");
  ul.replaceChildren();
  if (!data.items.length) ul.append(el("li", { class: "muted" }, W("js.nothing_changed")));
  for (const n of data.items.slice(0, 10)) {
    const li = el("li", { class: "change" + (n.read ? "" : " unread"), "data-notification": n.id },
      el("b", {}, n.read ? n.title : WS("js.new", "title", n.title)));
    if (n.reason) li.append(el("span", { class: "reason" }, WS("js.reason", "reason", n.cause || n.reason)));
    const list = el("ul");
    for (const c of n.changes) list.append(el("li", { class: "change-" + c.change }, c.text));
    li.append(list);
    ul.append(li);
  }
  if (data.unread > 0 && data.items.length) {
    // seen now: marked read, still shown as new until the next visit
    await api("POST", "/me/notifications/read", { up_to: data.items[0].id }, { "Idempotency-Key": idemKey() });
  }
}

// Server-sent events over fetch (an EventSource cannot send the bearer header): every
// "changed" event reloads what the page shows; the stream is reopened when it ends.
async function followChanges(onChange) {
  for (;;) {
    try {
      const res = await fetch(API + "/me/stream", { headers: { Authorization: "Bearer " + token() } });
      if (res.status === 401) { location.href = "/login"; return; }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (/^event: changed$/m.test(block)) await onChange();
        }
      }
    } catch (e) { /* reconnect below */ }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// --- calendar feeds (site managers and drivers) -------------------------------------------

function initFeeds() {
  const button = document.getElementById("feed");
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      const r = await api("POST", "/me/feed-token");
      const ul = document.getElementById("feed-links");
      ul.replaceChildren();
      for (const path of r.calendars) {
        const url = location.origin + path;
        ul.append(el("li", {}, el("a", { href: url.replace(/^https?:/, "webcal:"), class: "feed" }, url)));
      }
      say(W("feeds.renewed"));
    } catch (e) { say(e.message, true); }
  });
}

// --- the language switch: kept for the user (PATCH /me) and in a cookie the pages read ---------

function setLanguageCookie(lang) {
  document.cookie = "rvrota_lang=" + (lang || "") + "; path=/; SameSite=Strict; max-age=" + (lang ? 31536000 : 0);
}

function initLanguage() {
  const select = document.getElementById("language");
  if (!select) return;
  select.addEventListener("change", async () => {
    const lang = select.value || null;
    try {
      if (token()) await api("PATCH", "/me", { language: lang });
      setLanguageCookie(lang);
      location.reload();
    } catch (e) { say(e.message, true); }
  });
}

// the user's choice wins over what this browser last showed (another device may have changed it)
function followLanguage(me) {
  const chosen = me.language || null;
  if (chosen === LANG) return false;
  setLanguageCookie(chosen);
  if (sessionStorage.getItem("rvrota.lang-reload") === String(chosen)) return false; // once
  sessionStorage.setItem("rvrota.lang-reload", String(chosen));
  location.reload();
  return true;
}

// --- start --------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  const page = document.body.getAttribute("data-page");
  initLanguage();
  if (page === "login") { initLogin(); return; }
  if (!token()) { location.href = "/login"; return; }
  document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem("rvrota.token"); location.href = "/login"; });
  let me;
  try { me = await api("GET", "/me"); } catch (e) { return; }
  if (followLanguage(me)) return;
  sessionStorage.removeItem("rvrota.lang-reload");
  document.getElementById("who").textContent = me.name + " · " + (has("role." + me.role) ? W("role." + me.role) : me.role);
  const wanted = document.body.getAttribute("data-role");
  if (wanted && me.role !== wanted) { location.href = HOME[me.role]; return; }
  initFeeds();
  if (page === "board") initBoard();
  else if (page === "site") initSite(me).catch((e) => say(e.message, true));
  else if (page === "driver") initDriver(me);
});
