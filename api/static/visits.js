"use strict";
// A site's visits for its workers (/visits/{site_id}): book a place, see and cancel one's
// bookings (the plan may have moved or cancelled them: the server says so in the page's
// language). No password: the device id of phone.js (shared with the check-in page).
// Uses W(), say(), el(), deviceId(), afterConsent() and answerOf() of phone.js.

function siteId() {
  return decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
}

function hhmm(iso) { return iso.slice(11, 16); }

function withLang(path) { return path + (path.includes("?") ? "&" : "?") + "lang=" + PHONE_LANG; }

function refusal(body, status) {
  const d = body && body.detail;
  if (status === 429) return W("phone.too_many");
  if (d && d.code === "full") return W("visits.full");
  if (d && d.code === "already") return W("visits.already");
  if (d && d.code === "closed") return W("visits.closed");
  return W("visits.book_failed", { status });
}

async function loadMine() {
  const r = await fetch(withLang("/api/v1/bookings"), { headers: { "X-Device": deviceId() } });
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
      const cancel = el("button", { type: "button", class: "cancel" }, W("visits.cancel"));
      cancel.addEventListener("click", () => cancelBooking(b.id));
      item.append(" ", cancel);
    }
    list.append(item);
  }
}

async function cancelBooking(id) {
  const r = await fetch(withLang("/api/v1/bookings/" + id), { method: "DELETE", headers: { "X-Device": deviceId() } });
  if (r.status === 200) say(W("visits.cancelled")); else say(W("visits.cancel_failed", { status: r.status }), true);
  await refresh();
}

async function book(sessionId, amenity, block) {
  const body = { session_id: sessionId, amenity, block, device: deviceId() };
  const member = localStorage.getItem(MEMBER);
  if (member) body.member_no = member;
  const r = await fetch(withLang("/api/v1/bookings"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await answerOf(r);
  if (r.status === 201) say(W("visits.booked", { text: answer.text })); else say(refusal(answer, r.status), true);
  await refresh();
}

async function loadVisits() {
  const r = await fetch(withLang("/api/v1/sites/" + encodeURIComponent(siteId()) + "/public"));
  const box = document.getElementById("visits");
  box.replaceChildren();
  if (r.status !== 200) { say(W("visits.no_site"), true); return; }
  const site = await r.json();
  document.getElementById("site-name").textContent = W("visits.site_heading", { site: site.name });
  document.getElementById("visits-empty").hidden = site.visits.length > 0;
  for (const v of site.visits) {
    const card = el("div", { class: "visit", "data-session": String(v.session_id) });
    card.append(el("h3", {}, v.when + " " + hhmm(v.start) + "-" + hhmm(v.end)));
    const places = el("ul", { class: "plain places" });
    for (const p of v.places) {
      const item = el("li", { "data-amenity": p.amenity, "data-block": String(p.block) });
      item.append(el("span", {}, p.amenity_label + " " + hhmm(p.start) + "-" + hhmm(p.end) +
        " · " + W("visits.left", { left: p.left }) + " "));
      const button = el("button", { type: "button", class: "book" }, W("visits.book"));
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
    item.append(el("p", { class: "asked" }, W("visits.asked", { text: q.text })));
    item.append(el("p", { class: "answer" }, q.answer ? W("visits.answer", { text: q.answer }) : W("visits.not_answered")));
    list.append(item);
  }
}

async function ask(text) {
  const r = await fetch("/api/v1/questions", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept-Language": PHONE_LANG },
    body: JSON.stringify({ device: deviceId(), text, site_id: siteId() }),
  });
  if (r.status === 201) {
    say(W("visits.sent"));
    document.getElementById("question-text").value = "";
  } else if (r.status === 429) {
    say(W("visits.too_many_questions"), true);
  } else {
    say(W("visits.send_failed", { status: r.status }), true);
  }
  await loadQuestions();
}

async function refresh() {
  await Promise.all([loadMine(), loadVisits(), loadQuestions()]);
}

function start() {
  document.getElementById("content").hidden = false;
  refresh().catch(() => say(W("phone.network"), true));
  setInterval(() => { loadMine().catch(() => {}); loadQuestions().catch(() => {}); }, 30000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("question-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = document.getElementById("question-text").value.trim();
    if (text) ask(text).catch(() => say(W("phone.network"), true));
  });
  afterConsent(start);
});
