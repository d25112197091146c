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
    location.href = HOME[data.role] || "/login";
  });
}

// --- dispatcher board ---------------------------------------------------------------------

const board = { week: null, version: null, schedule: null };

async function loadBoard() {
  const q = board.week ? "?week=" + encodeURIComponent(board.week) : "";
  const sched = await api("GET", "/schedule" + q);
  board.schedule = sched;
  board.week = sched.week;
  document.getElementById("week").value = sched.week;
  drawGrid(sched);
  try {
    const plan = await api("GET", "/plans/current?week=" + sched.week + "&region=" + sched.region);
    drawPlan(plan);
  } catch (e) {
    drawPlan(null);
  }
  const v = await api("GET", "/schedule/version?week=" + sched.week + "&region=" + sched.region);
  board.version = v.changed;
}

function drawGrid(sched) {
  const table = document.getElementById("grid");
  const thead = table.tHead, tbody = table.tBodies[0];
  thead.replaceChildren(); tbody.replaceChildren();
  const days = [];
  const start = new Date(sched.start_date + "T00:00:00");
  for (let d = 0; d < sched.days; d++) {
    const date = new Date(start.getTime() + d * 86400000);
    days.push(date.toLocaleDateString("zh-CN", { month: "numeric", day: "numeric", weekday: "short" }));
  }
  const top = el("tr", {}, el("th", { rowSpan: 2 }, "车辆 RV"));
  const second = el("tr");
  days.forEach((label) => top.append(el("th", { colSpan: sched.slots.length, class: "day" }, label)));
  days.forEach(() => sched.slots.forEach((s) => second.append(el("th", { class: "slot" }, s.id + " " + s.start))));
  thead.append(top, second);
  const cells = new Map();
  const busy = new Set();
  for (const s of sched.sessions) { cells.set(s.vehicle + "|" + s.day + "|" + s.slot, s); busy.add(s.vehicle); }
  const states = new Map((sched.vehicle_states || []).map((st) => [st.id, st]));
  for (const v of sched.vehicles) {
    const st = states.get(v);
    const head = el("th", { scope: "row" }, el("b", {}, v));
    if (st) {
      const line = el("span", { class: "vstatus" + (st.unavailable ? " out" : ""), "data-status": st.status }, statusText(st.status));
      if (st.unavailable && st.unavailable_until) line.append(" · 至 until " + shortTime(st.unavailable_until));
      if (st.late_minutes !== null && st.late_minutes !== undefined) line.append(" · 晚到 late " + st.late_minutes + " min");
      head.append(line);
    }
    const row = el("tr", { "data-vehicle": v }, head);
    if (!busy.has(v)) {
      row.append(el("td", { class: "empty-row", colSpan: sched.days * sched.slots.length }, emptyReason(st)));
      tbody.append(row);
      continue;
    }
    for (let d = 0; d < sched.days; d++) {
      for (const slot of sched.slots) {
        const s = cells.get(v + "|" + d + "|" + slot.id);
        const td = el("td", { class: "cell" });
        if (s) {
          td.classList.add("busy", "state-" + s.state);
          td.setAttribute("data-session", s.id);
          const pin = el("button", { type: "button", class: "pin" + (s.pinned ? " on" : ""), title: "pin 固定" }, s.pinned ? "★" : "☆");
          pin.setAttribute("aria-pressed", String(s.pinned));
          pin.addEventListener("click", () => togglePin(s));
          td.append(el("span", { class: "site" }, s.site_name || s.site),
                    el("span", { class: "heads" }, (s.headcount ?? "–") + " 人"), pin);
          if (s.state === "missed") td.append(el("span", { class: "missed" }, stateText("missed")));
        }
        row.append(td);
      }
    }
    tbody.append(row);
  }
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

function fmt(n, digits) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: digits }); }

function drawPlan(plan) {
  document.getElementById("stat-workers").textContent = plan ? fmt(plan.stats.workers_reached, 0) : "–";
  document.getElementById("stat-km").textContent = plan ? fmt(plan.stats.km, 1) : "–";
  document.getElementById("stat-objective").textContent = plan ? fmt(plan.stats.objective, 1) : "–";
  document.getElementById("stat-bound").textContent = plan ? fmt(plan.stats.bound, 1) : "–";
  document.getElementById("stat-gap").textContent = plan && plan.stats.gap !== null && plan.stats.gap !== undefined ? (plan.stats.gap * 100).toFixed(2) + "%" : "–";
  document.getElementById("plan-version").textContent = plan ? "版本 version " + plan.version + " · " + plan.status : "无方案 no plan";
  const ul = document.getElementById("unserved");
  ul.replaceChildren();
  for (const u of (plan ? plan.unserved : [])) ul.append(el("li", {}, el("b", {}, u.site), " ", u.reason));
}

async function togglePin(s) {
  try {
    await api("PATCH", "/sessions/" + s.id, { pinned: !s.pinned });
    say((s.pinned ? "已取消固定 Unpinned " : "已固定 Pinned ") + s.vehicle + " · " + (s.site_name || s.site));
    await loadBoard();
  } catch (e) { say(e.message, true); }
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

function initBoard() {
  document.getElementById("replan").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/plans", { week: board.week, region: board.schedule && board.schedule.region }, { "Idempotency-Key": idemKey() });
      say("已请求重新排班 Re-plan requested (" + r.event_id.slice(0, 8) + ")");
    } catch (e) { say(e.message, true); }
  });
  document.getElementById("week").addEventListener("change", (ev) => { board.week = ev.target.value || null; loadBoard().catch((e) => say(e.message, true)); });
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
  setTimeout(() => { loadNextStop(driver.vehicle); loadVehicleStatus(driver.vehicle); }, 1500);
}

function hideForms() { for (const f of document.querySelectorAll("form.status-form")) f.hidden = true; }

function initDriver(me) {
  if (!me.vehicle) { say("未绑定车辆 No vehicle bound", true); return; }
  driver.vehicle = me.vehicle;
  loadNextStop(me.vehicle);
  loadVehicleStatus(me.vehicle);
  loadChanges().catch((e) => say(e.message, true));
  followChanges(async () => { await loadNextStop(me.vehicle); await loadChanges(); });
  setInterval(() => { loadNextStop(me.vehicle); loadVehicleStatus(me.vehicle); }, 30000);
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
