// rvrota pages: a small client of /api/v1. The token stays in this tab's sessionStorage.
"use strict";

const API = "/api/v1";
const HOME = { dispatcher: "/board", site_manager: "/site", driver: "/driver" };

// Ids stay ids; what people read is in Chinese and English.
const STATUS = {
  available: "可用 Available", en_route: "在途 En route", on_site: "在工地 On site",
  maintenance: "保养 Maintenance", breakdown: "故障 Broken down", off_duty: "休息 Off duty",
};
const STATE = {
  planned: "计划 planned", confirmed: "已确认 confirmed", in_progress: "进行中 in progress",
  done: "已完成 done", missed: "未成行 missed", cancelled: "已取消 cancelled",
};

function statusText(s) { return STATUS[s] || s; }
function stateText(s) { return STATE[s] || s; }
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
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
  }
  return (body && body.detail) || "HTTP " + status;
}

async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({ Authorization: "Bearer " + token() }, extraHeaders || {});
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
    if (!res.ok) { say("登录失败 Sign-in failed: " + errorText(data, res.status), true); return; }
    sessionStorage.setItem("rvrota.token", data.access_token);
    // what a driver page kept offline belongs to whoever signed in before
    if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage("forget");
    location.href = HOME[data.role] || "/login";
  });
}

// --- dispatcher board ---------------------------------------------------------------------

const board = { week: null, version: null, schedule: null, plan: null, versions: [] };
const WEEKDAYS = [["周一", "Mon"], ["周二", "Tue"], ["周三", "Wed"], ["周四", "Thu"], ["周五", "Fri"], ["周六", "Sat"], ["周日", "Sun"]];
const SLOT_WORDS = { lunch: ["午休", "lunch"], evening: ["晚间", "evening"], morning: ["上午", "morning"] };
const STATE_WORDS = {
  planned: ["已计划", "planned"], confirmed: ["已确认", "confirmed"], in_progress: ["进行中", "under way"],
  done: ["已完成", "done"], missed: ["未到", "missed"], cancelled: ["已取消", "cancelled"],
};
const STATUS_WORDS = { published: ["已发布", "published"], held: ["待批准", "held for approval"], superseded: ["已被取代", "superseded"] };

function utcDate(iso) { const [y, m, d] = iso.slice(0, 10).split("-").map(Number); return new Date(Date.UTC(y, m - 1, d)); }
function isoDate(d) { return d.toISOString().slice(0, 10); }
function addDays(d, n) { return new Date(d.getTime() + n * 86400000); }
function weekdayOf(d) { return WEEKDAYS[(d.getUTCDay() + 6) % 7]; }
function isoWeek(d) {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7)); // the Thursday of its week
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return year + "-W" + String(week).padStart(2, "0");
}
function slotWords(id) { return SLOT_WORDS[id] || [id, id]; }
function stateWords(id) { return STATE_WORDS[id] || [id, id]; }
function shortDate(d) { return (d.getUTCMonth() + 1) + "/" + d.getUTCDate(); }
function visitWords(v) {
  const d = utcDate(v.date), [wz, we] = weekdayOf(d), [sz, se] = slotWords(v.slot);
  return { zh: shortDate(d) + " " + wz + sz, en: we + " " + se, date: shortDate(d) };
}
function fmt(n, digits) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: digits }); }

// "within 0.1% of the best possible week", rounded up so that it stays true
function bestWords(stats) {
  const gap = stats ? stats.gap : null;
  if (gap === null || gap === undefined) return { value: "–", zh: "未算出最佳可能的一周", en: "best possible week not computed" };
  if (gap <= 0) return { value: "最佳 best", zh: "就是最佳可能的一周", en: "the best possible week" };
  const pct = Math.ceil(gap * 1000) / 10;
  return { value: pct + "%", zh: "与最佳可能的一周相差不到 " + pct + "%", en: "within " + pct + "% of the best possible week" };
}

function statsSentence(stats, sessions) {
  const best = bestWords(stats);
  return "覆盖 " + fmt(stats.workers_reached, 0) + " 名职工 · " + fmt(stats.km, 1) + " 公里 · " + fmt(stats.sessions ?? sessions, 0) + " 场 · " + best.zh +
    " / " + fmt(stats.workers_reached, 0) + " workers reached · " + fmt(stats.km, 1) + " km · " + fmt(stats.sessions ?? sessions, 0) + " visits · " + best.en;
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
  const top = el("tr", {}, el("th", { rowSpan: 2, class: "rv", scope: "col" }, "车辆 RV"));
  const second = el("tr");
  for (let d = 0; d < sched.days; d++) {
    const date = addDays(start, d), [wz, we] = weekdayOf(date);
    top.append(el("th", { colSpan: sched.slots.length, class: "day", scope: "colgroup", "data-date": isoDate(date) }, shortDate(date) + " " + wz + " " + we));
  }
  cols.forEach((c, i) => {
    const [sz, se] = slotWords(c.slot.id);
    const th = el("th", { class: "slot", scope: "col" }, sz + " " + se + " " + c.slot.start);
    if (i === nowCol) { th.classList.add("now-col"); th.append(el("span", { class: "now-mark" }, " 现在 now " + now.slice(11, 16))); }
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
      if (st.unavailable && st.unavailable_until) line.append(" · 至 until " + shortTime(st.unavailable_until));
      if (st.late_minutes !== null && st.late_minutes !== undefined) line.append(" · 晚到 late " + st.late_minutes + " min");
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
    let text = "停运：" + statusText(st.status) + " Out of service";
    if (st.note) text += " · " + st.note;
    text += st.unavailable_until ? " · 预计恢复 back " + shortTime(st.unavailable_until)
                                 : " · 恢复时间未定 return not given";
    return text;
  }
  return "本周未安排 No sessions planned this week";
}


function drawSession(td, s, past) {
  td.classList.add("busy", "state-" + s.state);
  td.setAttribute("data-session", s.id);
  const name = s.site_name || s.site, when = visitWords(s);
  const [stz, ste] = stateWords(s.state);
  const unreported = past && (s.state === "planned" || s.state === "confirmed");
  if (unreported) td.classList.add("unreported");
  const pin = el("button", { type: "button", class: "pin" + (s.pinned ? " on" : "") }, s.pinned ? "★" : "☆");
  pin.setAttribute("aria-pressed", String(s.pinned));
  pin.setAttribute("aria-label", (s.pinned ? "取消固定 " : "固定 ") + name + " " + when.zh + " · " + (s.pinned ? "unpin " : "pin ") + name + " " + when.en);
  pin.title = pin.getAttribute("aria-label");
  pin.addEventListener("click", () => togglePin(s));
  td.append(el("span", { class: "site" }, name),
            el("span", { class: "heads" }, (s.headcount ?? "–") + " 人 "),
            el("span", { class: "state" }, unreported ? "未报告 not reported" : stz + " " + ste), pin);
}

function drawPlan(plan) {
  const stats = plan ? plan.stats : null;
  document.getElementById("stat-workers").textContent = stats ? fmt(stats.workers_reached, 0) : "–";
  document.getElementById("stat-km").textContent = stats ? fmt(stats.km, 1) : "–";
  document.getElementById("stat-sessions").textContent = stats ? fmt(stats.sessions ?? plan.sessions, 0) : "–";
  const best = bestWords(stats);
  document.getElementById("stat-best").textContent = best.value;
  document.getElementById("stat-best-words").textContent = best.zh + " · " + best.en;
  document.getElementById("plan-version").textContent = plan ? "版本 version " + plan.version + " · " + STATUS_WORDS[plan.status].join(" ") : "无方案 no plan";
  const ul = document.getElementById("unserved");
  ul.replaceChildren();
  for (const u of (plan ? plan.unserved : [])) ul.append(el("li", {}, el("b", {}, u.site), " ", u.reason));
}

function localTime(iso, tz) {
  return new Date(iso).toLocaleString("zh-CN", { timeZone: tz, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
}

function drawVersions(versions) {
  const ol = document.getElementById("versions");
  ol.replaceChildren();
  const inForce = versions.find((v) => v.in_force);
  if (!versions.length) ol.append(el("li", {}, "本周还没有方案 No plan for this week yet"));
  for (const v of versions) {
    const status = v.in_force ? ["生效中", "in force"] : STATUS_WORDS[v.status] || [v.status, v.status];
    const li = el("li", { class: "version" + (v.in_force ? " in-force" : ""), "data-plan": String(v.id) },
      el("b", {}, "第 " + v.version + " 版 Version " + v.version), " · " + status.join(" ") + " · " + localTime(v.created_at, board.schedule.timezone),
      el("div", { class: "trigger" }, "起因 Cause: " + (v.trigger || "—")),
      el("div", { class: "muted" }, statsSentence(v.stats, v.sessions)));
    if (inForce && !v.in_force) {
      const b = el("button", { type: "button", class: "compare" }, "与生效方案比较 Compare with the plan in force");
      b.setAttribute("aria-label", "第 " + v.version + " 版与生效方案比较 · Compare version " + v.version + " with the plan in force");
      b.addEventListener("click", () => showDiff(v, inForce).catch((e) => say(e.message, true)));
      li.append(b);
    }
    ol.append(li);
  }
}

async function showDiff(chosen, inForce) {
  // always from the older version to the newer one
  const [older, newer] = chosen.version < inForce.version ? [chosen, inForce] : [inForce, chosen];
  const d = await api("GET", "/plans/" + newer.id + "/diff?against=" + older.id);
  const box = document.getElementById("diff");
  box.hidden = false;
  document.getElementById("diff-title").textContent = "从第 " + older.version + " 版到第 " + newer.version + " 版 From version " + older.version + " to version " + newer.version;
  document.getElementById("diff-summary").textContent = "新增 " + d.added.length + " 场 · 取消 " + d.removed.length + " 场 · 调动 " + d.moved.length + " 场 · 不变 " + d.unchanged + " 场 / " +
    d.added.length + " added · " + d.removed.length + " removed · " + d.moved.length + " moved · " + d.unchanged + " unchanged";
  const stats = document.getElementById("diff-stats");
  stats.replaceChildren();
  const shown = [["workers_reached", "覆盖职工", "workers reached", 0], ["km", "里程（公里）", "km", 1], ["sessions", "场次", "visits", 0]];
  for (const [key, zh, en, digits] of shown) {
    const s = d.stats[key];
    if (!s) continue;
    const change = s.change === null ? "" : " (" + (s.change > 0 ? "+" : "") + fmt(s.change, digits) + ")";
    stats.append(el("li", { "data-stat": key }, zh + " " + en + ": " + fmt(s.before, digits) + " → " + fmt(s.after, digits) + change));
  }
  const bBefore = bestWords({ gap: d.stats.gap ? d.stats.gap.before : null }), bAfter = bestWords({ gap: d.stats.gap ? d.stats.gap.after : null });
  stats.append(el("li", { "data-stat": "best" }, bBefore.zh + " → " + bAfter.zh + " · " + bBefore.en + " → " + bAfter.en));
  const vehicles = document.getElementById("diff-vehicles");
  vehicles.replaceChildren();
  const siteName = (v) => v.site_name || v.site;
  for (const [vehicle, ch] of Object.entries(d.by_vehicle)) {
    const ul = el("ul");
    for (const v of ch.added) { const w = visitWords(v); ul.append(el("li", { class: "added" }, "＋ 新增 added: " + siteName(v) + " " + w.zh + " · " + w.en)); }
    for (const v of ch.removed) { const w = visitWords(v); ul.append(el("li", { class: "removed" }, "－ 取消 removed: " + siteName(v) + " " + w.zh + " · " + w.en)); }
    for (const m of ch.moved) {
      const a = visitWords(m.from), b = visitWords(m.to);
      ul.append(el("li", { class: "moved" }, "↔ 调动 moved: " + siteName(m.to) + " " + m.from.vehicle + " " + a.zh + " → " + m.to.vehicle + " " + b.zh + " · " + a.en + " → " + b.en));
    }
    vehicles.append(el("div", { class: "diff-vehicle", "data-vehicle": vehicle }, el("h4", {}, "车辆 RV " + vehicle), ul));
  }
  box.scrollIntoView({ block: "nearest" });
}

async function togglePin(s) {
  try {
    await api("PATCH", "/sessions/" + s.id, { pinned: !s.pinned });
    say((s.pinned ? "已取消固定 Unpinned " : "已固定 Pinned ") + s.vehicle + " · " + (s.site_name || s.site));
    await loadBoard();
  } catch (e) { say(e.message, true); }
}

async function download(format) {
  const sched = board.schedule;
  const path = "/schedule/export?format=" + format + "&week=" + sched.week + "&region=" + encodeURIComponent(sched.region);
  const res = await fetch(API + path, { headers: { Authorization: "Bearer " + token() } });
  if (!res.ok) throw new Error(errorText(await res.json().catch(() => null), res.status));
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: "rvrota-" + sched.region + "-" + sched.week + "." + format });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  say("已导出 Exported " + format.toUpperCase());
}

async function pollBoard() {
  if (!board.schedule) return;
  try {
    const v = await api("GET", "/schedule/version?week=" + board.week + "&region=" + board.schedule.region);
    if (v.changed !== board.version) { await loadBoard(); say("方案已更新 Plan updated"); }
  } catch (e) { /* keep polling */ }
}

const TOPIC_NAMES = {
  "rvrota.site-headcounts": "工地人数 Site headcount",
  "rvrota.vehicle-status": "车辆状态 Vehicle status",
  "rvrota.plan-requests": "排班请求 Re-plan request",
};

function topicName(topic) {
  for (const [name, label] of Object.entries(TOPIC_NAMES)) if (topic === name || topic.endsWith("." + name)) return label;
  return topic;
}

async function loadDeadLetters() {
  const letters = await api("GET", "/dead-letters?limit=50");
  const tbody = document.querySelector("#dead-letters tbody");
  tbody.replaceChildren();
  document.getElementById("dead-letters-none").hidden = letters.length > 0;
  for (const d of letters) {
    const when = new Date(d.rejected_at).toLocaleString("zh-CN", { dateStyle: "short", timeStyle: "short" });
    const text = d.original_text.length > 160 ? d.original_text.slice(0, 160) + "…" : d.original_text;
    const cell = el("td");
    if (d.truncated) cell.append(el("span", { class: "muted" }, "过大，不能重放 Too large to replay"));
    else {
      const button = el("button", { type: "button", class: "replay" }, "重放 Replay");
      button.addEventListener("click", () => replayLetter(d));
      cell.append(button);
    }
    if (d.replays) cell.append(el("span", { class: "muted" }, " 已重放 replayed ×" + d.replays));
    tbody.append(el("tr", { "data-letter": String(d.id) }, el("td", {}, when), el("td", {}, topicName(d.topic)),
      el("td", {}, d.field), el("td", {}, d.reason), el("td", {}, el("code", {}, text)), cell));
  }
}

async function replayLetter(d) {
  try {
    await api("POST", "/dead-letters/" + d.id + "/replay");
    say("已重放 Replayed: " + topicName(d.topic) + " · " + d.field);
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
      say("已请求重新排班 Re-plan requested (" + r.event_id.slice(0, 8) + ")");
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
  if (!visits.length) ul.append(el("li", {}, "暂无安排 No visits planned"));
  for (const v of visits) {
    const li = el("li", { class: "visit", "data-session": v.session_id }, el("b", {}, v.date + " " + v.slot), " " + v.start.slice(11, 16) + "–" + v.end.slice(11, 16) + " · RV " + v.vehicle + " · " + stateText(v.state));
    if (v.late_minutes !== null && v.late_minutes !== undefined) {
      li.append(" ", el("span", { class: "late" }, "车辆晚到约 " + v.late_minutes + " 分钟 RV about " + v.late_minutes + " min late"));
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
      say("已提交 Posted: " + body.count + " (" + r.event_id.slice(0, 8) + ")");
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
    document.getElementById("stop-window").textContent = n.start.slice(5, 10) + " " + n.slot + " " + n.start.slice(11, 16) + "–" + n.end.slice(11, 16) + " · " + stateText(n.state);
    document.getElementById("stop-address").textContent = n.site.address || n.site.lat.toFixed(5) + ", " + n.site.lon.toFixed(5);
    document.getElementById("link-amap").href = n.links.amap;
    document.getElementById("link-baidu").href = n.links.baidu;
    document.getElementById("link-geo").href = n.links.geo;
  } catch (e) {
    document.getElementById("stop-site").textContent = "暂无下一站 No next stop";
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
      li.textContent = "今天没有站点 No stops today";
      items.push(li);
    }
    list.replaceChildren(...items);
  } catch (e) { /* keep the last list */ }
}

async function loadVehicleStatus(vehicle) {
  const line = document.getElementById("vehicle-status");
  try {
    const v = await api("GET", "/vehicles/" + encodeURIComponent(vehicle));
    let text = "当前状态 Status: " + statusText(v.status);
    if (v.unavailable_until) text += " · 预计恢复 back " + v.unavailable_until.slice(0, 16).replace("T", " ");
    line.textContent = text;
    line.setAttribute("data-status", v.status);
  } catch (e) { /* keep the last line */ }
}

async function sendStatus(body, label) {
  const r = await api("POST", "/vehicles/" + encodeURIComponent(driver.vehicle) + "/status", body, { "Idempotency-Key": idemKey() });
  say("已报告 Reported: " + label + " (" + r.event_id.slice(0, 8) + ")");
  setTimeout(() => { loadNextStop(driver.vehicle); loadVehicleStatus(driver.vehicle); loadTodayStops(driver.vehicle); }, 1500);
}

function hideForms() { for (const f of document.querySelectorAll("form.status-form")) f.hidden = true; }

function initDriver(me) {
  if (!me.vehicle) { say("未绑定车辆 No vehicle bound", true); return; }
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
          document.getElementById("outage-title").textContent = "报告" + statusText(kind) + "? Report: " + statusText(kind) + "?";
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
    cancel.addEventListener("click", () => { hideForms(); say("未发送 Not sent"); });
  }
  document.getElementById("late-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const minutes = Number(document.getElementById("late-minutes").value);
    try {
      await sendStatus({ status: "en_route", late_minutes: minutes }, "晚到 " + minutes + " 分钟 late " + minutes + " min");
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
  if (!data.items.length) ul.append(el("li", { class: "muted" }, "暂无变动 Nothing has changed"));
  for (const n of data.items.slice(0, 10)) {
    const li = el("li", { class: "change" + (n.read ? "" : " unread"), "data-notification": n.id },
      el("b", {}, (n.read ? "" : "新 New · ") + n.title));
    if (n.reason) li.append(el("span", { class: "reason" }, "原因 Reason: " + n.reason));
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
      say("日历链接已更新 Calendar link renewed");
    } catch (e) { say(e.message, true); }
  });
}

// --- start --------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  const page = document.body.getAttribute("data-page");
  if (page === "login") { initLogin(); return; }
  if (!token()) { location.href = "/login"; return; }
  document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem("rvrota.token"); location.href = "/login"; });
  let me;
  try { me = await api("GET", "/me"); } catch (e) { return; }
  document.getElementById("who").textContent = me.name + " · " + me.role;
  const wanted = document.body.getAttribute("data-role");
  if (wanted && me.role !== wanted) { location.href = HOME[me.role]; return; }
  initFeeds();
  if (page === "board") initBoard();
  else if (page === "site") initSite(me).catch((e) => say(e.message, true));
  else if (page === "driver") initDriver(me);
});
