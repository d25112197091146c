"use strict";
// What the workers' phone pages share (check-in: checkin.js; a site's visits: visits.js):
// their words (the #words block: the catalogues' page.* entries they use, in the page's
// language, chosen by ?lang=, else the phone's language, else Chinese), the message line,
// elements, the consent asked once, and the random device id kept in localStorage after it.

const PHONE = (() => {
  try { return JSON.parse(document.getElementById("words").textContent); } catch (e) { return { lang: "zh", words: {} }; }
})();
const PHONE_LANG = PHONE.lang === "en" ? "en" : "zh";
const CONSENT = "rvrota.checkin.consent";
const DEVICE = "rvrota.checkin.device";
const MEMBER = "rvrota.checkin.member";

// one text of the catalogue ("page." + key) in the page's language, its {fields} filled in
function W(key, values) {
  const pair = PHONE.words[key] || [key, key];
  const text = PHONE_LANG === "en" ? pair[1] : pair[0];
  return text.replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? String(values[name]) : m));
}

function say(text, bad) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.classList.toggle("bad", !!bad);
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
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

// the consent line, asked once per phone: then start()
function afterConsent(start) {
  if (localStorage.getItem(CONSENT) === "yes") { start(); return; }
  document.getElementById("consent").hidden = false;
  document.getElementById("consent-yes").addEventListener("click", () => {
    localStorage.setItem(CONSENT, "yes");
    document.getElementById("consent").hidden = true;
    start();
  });
}

// a JSON answer, or null when the body is not JSON
async function answerOf(response) {
  try { return await response.json(); } catch (e) { return null; }
}
