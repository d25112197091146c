"use strict";
// The phone check-in page (/checkin?t=...): no password, the QR token is the credential.
// Uses W(), say(), deviceId(), afterConsent() and answerOf() of phone.js.

function refusal(body, status) {
  const d = body && body.detail;
  const field = Array.isArray(d) && d[0] && d[0].loc ? d[0].loc[d[0].loc.length - 1] : null;
  if (status === 429) return W("checkin.too_many");
  if (field === "token") return W("checkin.bad_code");
  if (field === "amenity") return W("checkin.not_offered");
  return W("checkin.failed", { status });
}

function showForm() {
  document.getElementById("checkin-form").hidden = false;
  document.getElementById("member-no").value = localStorage.getItem(MEMBER) || "";
}

async function checkIn(token) {
  const member = document.getElementById("member-no").value.trim();
  const amenity = document.getElementById("amenity").value;
  const body = { token, device: deviceId() };
  if (member) { body.member_no = member; localStorage.setItem(MEMBER, member); }
  if (amenity) body.amenity = amenity;
  const r = await fetch("/api/v1/checkins", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept-Language": PHONE_LANG },
    body: JSON.stringify(body),
  });
  const answer = await answerOf(r);
  if (r.status !== 202) { say(refusal(answer, r.status), true); return; }
  document.getElementById("checkin-form").hidden = true;
  document.getElementById("done").hidden = false;
  const at = answer.checked_in_at || "";
  document.getElementById("done-time").textContent = W("checkin.time", { date: at.slice(0, 10), time: at.slice(11, 16) });
  say("");
}

document.addEventListener("DOMContentLoaded", () => {
  const token = new URLSearchParams(location.search).get("t");
  if (!token) { say(W("checkin.scan"), true); return; }
  afterConsent(showForm);
  document.getElementById("checkin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("checkin-send");
    button.disabled = true;
    try { await checkIn(token); } catch (e) { say(W("phone.network"), true); }
    finally { button.disabled = false; }
  });
});
