"use strict";
// A site's visits for its workers (/visits/{site_id}): book a place, see and cancel one's
// bookings (the plan may have moved or cancelled them: the server says so in both
// languages). No password: a random device id (shared with the check-in page) stays in
// localStorage, after the worker's consent.

const CONSENT = "rvrota.checkin.consent";
const DEVICE = "rvrota.checkin.device";
const MEMBER = "rvrota.checkin.member";

function say(text, bad) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.classList.toggle("bad", !!bad);
}

function deviceId() {
  let id = localStorage.getItem(DEVICE);
  if (!id) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(DEVICE, id);
  }
  return id;
}

function siteId() {
  return decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
}

function hhmm(iso) { return iso.slice(11, 16); }

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function refusal(body, status) {
  const d = body && body.detail;
  if (status === 429) return "操作过于频繁,请稍后再试 Too many requests; please try again shortly";
  if (d && d.code === "full") return "名额已满 This place is full";
  if (d && d.code === "already") return "您已预约过该项目 You already hold a place for this";
  if (d && d.code === "closed") return "该时段已结束 This time is over";
  return "预约未成功 Booking failed (" + status + ")";
}

async function loadMine() {
  const r = await fetch("/api/v1/bookings?lang=both", { headers: { "X-Device": deviceId() } });
  const list = document.getElementById("mine");
  list.replaceChildren();
  if (r.status !== 200) return;
  const rows = await r.json();
  document.getElementById("mine-empty").hidden = rows.length > 0;
  for (const b of rows) {
    const item = el("li", { class: "booking " + b.state + (b.notice ? " notice-" + b.notice : ""),
                            "data-booking": String(b.id) });
    item.append(el("span", { class: "text" }, b.text));
    if (b.state === "booked") {
      const cancel = el("button", { type: "button", class: "cancel" }, "取消 Cancel");
      cancel.addEventListener("click", () => cancelBooking(b.id));
      item.append(" ", cancel);
    }
    list.append(item);
  }
}

async function cancelBooking(id) {
  const r = await fetch("/api/v1/bookings/" + id + "?lang=both", { method: "DELETE", headers: { "X-Device": deviceId() } });
  if (r.status === 200) say("已取消 Cancelled"); else say("取消未成功 Could not cancel (" + r.status + ")", true);
  await refresh();
}

async function book(sessionId, amenity, block) {
  const body = { session_id: sessionId, amenity, block, device: deviceId() };
  const member = localStorage.getItem(MEMBER);
  if (member) body.member_no = member;
  const r = await fetch("/api/v1/bookings?lang=both", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer = null;
  try { answer = await r.json(); } catch (e) { answer = null; }
  if (r.status === 201) say("已预约 Booked: " + answer.text); else say(refusal(answer, r.status), true);
  await refresh();
}

async function loadVisits() {
  const r = await fetch("/api/v1/sites/" + encodeURIComponent(siteId()) + "/public");
  const box = document.getElementById("visits");
  box.replaceChildren();
  if (r.status !== 200) { say("找不到该工地 No such site", true); return; }
  const site = await r.json();
  document.getElementById("site-name").textContent = site.name + " · 房车来访 RV visits";
  document.getElementById("visits-empty").hidden = site.visits.length > 0;
  for (const v of site.visits) {
    const card = el("div", { class: "visit", "data-session": String(v.session_id) });
    card.append(el("h3", {}, v.when + " " + hhmm(v.start) + "-" + hhmm(v.end)));
    const places = el("ul", { class: "plain places" });
    for (const p of v.places) {
      const item = el("li", { "data-amenity": p.amenity, "data-block": String(p.block) });
      item.append(el("span", {}, p.amenity_label + " " + hhmm(p.start) + "-" + hhmm(p.end) +
        " · 余 " + p.left + " left "));
      const button = el("button", { type: "button", class: "book" }, "预约 Book");
      button.disabled = p.left <= 0;
      button.addEventListener("click", () => book(v.session_id, p.amenity, p.block));
      item.append(button);
      places.append(item);
    }
    card.append(places);
    box.append(card);
  }
}

async function loadQuestions() {
  const r = await fetch("/api/v1/questions", { headers: { "X-Device": deviceId() } });
  const list = document.getElementById("my-questions");
  list.replaceChildren();
  if (r.status !== 200) return;
  for (const q of await r.json()) {
    const item = el("li", { class: "question", "data-question": String(q.id) });
    item.append(el("p", { class: "asked" }, "问 Q: " + q.text));
    item.append(el("p", { class: "answer" }, q.answer ? "答 A: " + q.answer : q.status));
    list.append(item);
  }
}

async function ask(text) {
  const r = await fetch("/api/v1/questions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ device: deviceId(), text, site_id: siteId() }),
  });
  if (r.status === 201) {
    say("问题已提交 Question sent");
    document.getElementById("question-text").value = "";
  } else if (r.status === 429) {
    say("提问过于频繁,请稍后再试 Too many questions; please try again later", true);
  } else {
    say("提交未成功 Could not send (" + r.status + ")", true);
  }
  await loadQuestions();
}

async function refresh() {
  await Promise.all([loadMine(), loadVisits(), loadQuestions()]);
}

function start() {
  document.getElementById("consent").hidden = true;
  document.getElementById("content").hidden = false;
  refresh().catch(() => say("网络错误,请重试 Network error, please try again", true));
  setInterval(() => { loadMine().catch(() => {}); loadQuestions().catch(() => {}); }, 30000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("question-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = document.getElementById("question-text").value.trim();
    if (text) ask(text).catch(() => say("网络错误,请重试 Network error, please try again", true));
  });
  if (localStorage.getItem(CONSENT) === "yes") { start(); return; }
  document.getElementById("consent").hidden = false;
  document.getElementById("consent-yes").addEventListener("click", () => {
    localStorage.setItem(CONSENT, "yes");
    start();
  });
});
