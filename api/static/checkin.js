"use strict";
// The phone check-in page (/checkin?t=...): no password, the QR token is the credential.
// A random device id and, with the worker's consent, the member number stay in localStorage.

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

function refusal(body, status) {
  const d = body && body.detail;
  if (status === 429) return "签到过于频繁,请稍后再试 Too many check-ins; please try again shortly";
  if (Array.isArray(d) && d[0] && d[0].loc && d[0].loc[d[0].loc.length - 1] === "token") {
    return "二维码无效或不在签到时间内 This code is not valid now (check-in opens 30 minutes before the visit and closes 30 minutes after)";
  }
  if (Array.isArray(d) && d[0] && d[0].loc && d[0].loc[d[0].loc.length - 1] === "amenity") {
    return "这辆车没有该服务 This RV does not offer that service";
  }
  return "签到未成功 Check-in failed (" + status + ")";
}

function showForm() {
  document.getElementById("consent").hidden = true;
  const form = document.getElementById("checkin-form");
  form.hidden = false;
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
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer = null;
  try { answer = await r.json(); } catch (e) { answer = null; }
  if (r.status !== 202) { say(refusal(answer, r.status), true); return; }
  document.getElementById("checkin-form").hidden = true;
  document.getElementById("done").hidden = false;
  const at = answer.checked_in_at || "";
  document.getElementById("done-time").textContent = "签到时间 Time: " + at.slice(0, 10) + " " + at.slice(11, 16);
  say("");
}

document.addEventListener("DOMContentLoaded", () => {
  const token = new URLSearchParams(location.search).get("t");
  if (!token) { say("请扫描房车上的二维码 Please scan the code on the RV", true); return; }
  if (localStorage.getItem(CONSENT) === "yes") showForm();
  else document.getElementById("consent").hidden = false;
  document.getElementById("consent-yes").addEventListener("click", () => {
    localStorage.setItem(CONSENT, "yes");
    showForm();
  });
  document.getElementById("checkin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("checkin-send");
    button.disabled = true;
    try { await checkIn(token); } catch (e) { say("网络错误,请重试 Network error, please try again", true); }
    finally { button.disabled = false; }
  });
});
