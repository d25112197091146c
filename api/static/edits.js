// rvrota board: the dispatcher's hand edits (add by click, move by drag, take out), each
// priced by a dry run before it is kept. Uses app.js (api, el, say, board, loadBoard, ...).
"use strict";

const edit = { pending: null, sites: null };
const BOTH = {}; // rule details in the page's language (app.js's api() sends it)

function signed(n, digits) {
  if (n === null || n === undefined) return "–";
  const s = fmt(Math.abs(n), digits);
  return (n > 0 ? "+" : n < 0 ? "−" : "±") + s;
}

function cellWords(day, slot) {
  const d = addDays(utcDate(board.schedule.start_date), day);
  const pair = P("js.cell_when", { date: shortDate(d), weekday: weekdayOf(d), slot: slotWords(slot) });
  return { pair, text: pick(pair), date: isoDate(d) };
}

function priceWords(p) {
  const pr = p.price;
  return W("js.price", { workers: signed(pr.workers_reached, 0), km: signed(pr.km, 1), score: signed(pr.objective, 0) });
}

function displacedWords(p) {
  if (!p.displaced.length) return W("js.displaces_none");
  const list = p.displaced.map((s) => (s.site_name || s.site) + " (" + s.vehicle + " " + cellWords(s.day, s.slot).text + ")").join("; ");
  return W("js.displaces", { list });
}

function panel() { return document.getElementById("edit-panel"); }

function closePanel() {
  edit.pending = null;
  panel().hidden = true;
  document.getElementById("edit-price").textContent = "";
  document.getElementById("edit-displaced").textContent = "";
  document.getElementById("edit-refused").textContent = "";
  document.getElementById("edit-keep").disabled = true;
}

function showRefusal(text) {
  document.getElementById("edit-price").textContent = "";
  document.getElementById("edit-displaced").textContent = "";
  document.getElementById("edit-refused").textContent = WS("js.not_possible", "why", text);
  document.getElementById("edit-keep").disabled = true;
}

async function showPrice(pending) {
  edit.pending = pending;
  document.getElementById("edit-refused").textContent = "";
  document.getElementById("edit-keep").disabled = true;
  document.getElementById("edit-price").textContent = W("js.pricing");
  try {
    const p = await api(pending.method, pending.path + "?dry_run=true", pending.body, BOTH);
    if (edit.pending !== pending) return;
    document.getElementById("edit-price").textContent = priceWords(p);
    document.getElementById("edit-displaced").textContent = displacedWords(p);
    document.getElementById("edit-keep").disabled = false;
  } catch (e) {
    if (edit.pending === pending) showRefusal(e.message);
  }
}

async function loadSites() {
  if (edit.sites) return edit.sites;
  const sites = await api("GET", "/sites?region=" + encodeURIComponent(board.schedule.region));
  edit.sites = sites.slice().sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id, LANG === "en" ? "en" : "zh-CN"));
  return edit.sites;
}

async function openAdd(vehicle, day, slot) {
  const w = cellWords(day, slot);
  closePanel();
  panel().hidden = false;
  document.getElementById("edit-title").textContent = W("js.add_title", { vehicle, when: w.pair });
  const select = document.getElementById("edit-site");
  select.parentElement.hidden = false;
  document.getElementById("edit-move").hidden = true;
  select.replaceChildren(el("option", { value: "" }, W("js.choose_site")));
  for (const s of await loadSites()) select.append(el("option", { value: s.id }, (s.name || s.id) + " (" + s.id + ")"));
  select.onchange = () => {
    if (!select.value) { closePanel(); return; }
    showPrice({ kind: "add", method: "POST", path: "/sessions", body: { region: board.schedule.region, vehicle, site: select.value, date: w.date, slot } });
  };
  select.focus();
}

function openMove(session, vehicle, day, slot) {
  const w = cellWords(day, slot), from = visitWords(session);
  closePanel();
  panel().hidden = false;
  document.getElementById("edit-site").parentElement.hidden = true;
  document.getElementById("edit-move").hidden = true;
  const name = session.site_name || session.site;
  const fromWhen = from.pair.map((x) => session.vehicle + " " + x);
  document.getElementById("edit-title").textContent = W("js.move_title", { site: name, from: fromWhen, vehicle, when: w.pair });
  showPrice({ kind: "move", method: "PATCH", path: "/sessions/" + session.id, body: { vehicle, date: w.date, slot } });
}

// the keyboard's way to move: choose the RV, the date and the slot
function openMoveForm(session) {
  const from = visitWords(session), name = session.site_name || session.site;
  closePanel();
  panel().hidden = false;
  document.getElementById("edit-site").parentElement.hidden = true;
  document.getElementById("edit-move").hidden = false;
  document.getElementById("edit-title").textContent = W("js.move_form_title", { site: name, from: from.pair.map((x) => session.vehicle + " " + x) });
  const sched = board.schedule;
  const vehicle = document.getElementById("move-vehicle"), date = document.getElementById("move-date"), slot = document.getElementById("move-slot");
  vehicle.replaceChildren(...sched.vehicles.map((v) => el("option", { value: v, selected: v === session.vehicle }, v)));
  const days = [];
  for (let d = 0; d < sched.days; d++) days.push(cellWords(d, session.slot));
  date.replaceChildren(...days.map((w, d) => el("option", { value: String(d), selected: d === session.day }, w.date + " " + pick(weekdayOf(utcDate(w.date))))));
  slot.replaceChildren(...sched.slots.map((s) => el("option", { value: s.id, selected: s.id === session.slot }, pick(slotWords(s.id)))));
  const changed = () => {
    const day = Number(date.value);
    if (vehicle.value === session.vehicle && day === session.day && slot.value === session.slot) { edit.pending = null; document.getElementById("edit-keep").disabled = true; return; }
    showPrice({ kind: "move", method: "PATCH", path: "/sessions/" + session.id, body: { vehicle: vehicle.value, date: cellWords(day, slot.value).date, slot: slot.value } });
  };
  for (const s of [vehicle, date, slot]) s.onchange = changed;
  vehicle.focus();
}

async function keep() {
  const pending = edit.pending;
  if (!pending) return;
  document.getElementById("edit-keep").disabled = true;
  document.getElementById("edit-price").textContent = W("js.replanning");
  try {
    const r = await api(pending.method, pending.path, pending.body, Object.assign({ "Idempotency-Key": idemKey() }, BOTH));
    closePanel();
    const s = r.session;
    say(W("js.kept", { site: s.site_name || s.site, vehicle: s.vehicle, date: s.date, slot: slotWords(s.slot), version: r.plan.version }));
    await loadBoard();
  } catch (e) { showRefusal(e.message); }
}

async function takeOut(session) {
  const w = visitWords(session), name = session.site_name || session.site;
  try {
    await api("DELETE", "/sessions/" + session.id, undefined, Object.assign({ "Idempotency-Key": idemKey() }, BOTH));
    say(W("js.taken_out", { site: name, vehicle: session.vehicle, when: w.pair }));
    await loadBoard();
  } catch (e) { say(WS("js.cannot_take_out", "why", e.message), true); }
}

function sessionById(id) { return board.schedule.sessions.find((s) => String(s.id) === String(id)); }

function decorate(sched) {
  const now = (sched.now || "").slice(0, 16);
  for (const row of document.querySelectorAll("#grid tbody tr[data-vehicle]")) {
    const vehicle = row.getAttribute("data-vehicle");
    for (const td of row.querySelectorAll("td.cell")) {
      const day = Number(td.getAttribute("data-day")), slot = td.getAttribute("data-slot");
      const open = !td.classList.contains("past");
      if (open) {
        td.addEventListener("dragover", (ev) => { ev.preventDefault(); td.classList.add("drop"); });
        td.addEventListener("dragleave", () => td.classList.remove("drop"));
        td.addEventListener("drop", (ev) => {
          ev.preventDefault(); td.classList.remove("drop");
          const s = sessionById(ev.dataTransfer.getData("text/plain"));
          if (s) openMove(s, vehicle, day, slot);
        });
      }
      const id = td.getAttribute("data-session");
      if (!id) {
        if (!open) continue;
        const w = cellWords(day, slot);
        const add = el("button", { type: "button", class: "add" }, "＋");
        add.setAttribute("aria-label", W("js.add_label", { vehicle, when: w.pair }));
        add.title = add.getAttribute("aria-label");
        add.addEventListener("click", () => openAdd(vehicle, day, slot).catch((e) => say(e.message, true)));
        td.classList.add("free");
        td.append(add);
        td.addEventListener("click", (ev) => { if (ev.target === td) add.click(); });
        continue;
      }
      const s = sessionById(id);
      if (!s || s.start.slice(0, 16) <= now || !open) continue;
      td.draggable = true;
      td.addEventListener("dragstart", (ev) => { ev.dataTransfer.setData("text/plain", String(s.id)); ev.dataTransfer.effectAllowed = "move"; });
      const w = visitWords(s), name = s.site_name || s.site;
      const out = el("button", { type: "button", class: "take-out" }, "✕");
      out.setAttribute("aria-label", W("js.take_out_label", { site: name, when: w.pair }));
      out.title = out.getAttribute("aria-label");
      out.addEventListener("click", () => takeOut(s));
      const move = el("button", { type: "button", class: "move" }, "⇄");
      move.setAttribute("aria-label", W("js.move_label", { site: name, when: w.pair }));
      move.title = move.getAttribute("aria-label");
      move.addEventListener("click", () => openMoveForm(s));
      td.append(move, out);
    }
  }
}

// --- site managers: a visit the site cannot host --------------------------------------------

function declineForm(li, visit, siteId) {
  if (li.querySelector("form.decline")) return;
  const label = W("js.why_not_host");
  const input = el("input", { type: "text", maxLength: 500, required: true, class: "reason" });
  input.setAttribute("aria-label", label);
  const send = el("button", { type: "submit", class: "primary" }, W("js.tell"));
  const cancel = el("button", { type: "button" }, W("board.cancel"));
  const form = el("form", { class: "decline" }, el("label", {}, label + " ", input), send, cancel);
  cancel.addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/sessions/" + visit.session_id + "/decline", { reason: input.value.trim() }, Object.assign({ "Idempotency-Key": idemKey() }, BOTH));
      say(W("js.declined", { date: visit.date, slot: slotWords(visit.slot), vehicle: visit.vehicle }));
      await loadVisits(siteId);
    } catch (e) { say(WS("js.not_declined", "why", e.message), true); }
  });
  li.append(form);
  input.focus();
}

function decorateVisits(detail) {
  for (const visit of detail.visits) {
    if (visit.state !== "planned" && visit.state !== "confirmed") continue;
    const li = document.querySelector('#visits li.visit[data-session="' + visit.session_id + '"]');
    if (!li) continue;
    const button = el("button", { type: "button", class: "decline" }, W("js.cannot_host"));
    button.setAttribute("aria-label", W("js.cannot_host_label", { date: visit.date, slot: slotWords(visit.slot) }));
    button.addEventListener("click", () => declineForm(li, visit, detail.site));
    li.append(" ", button);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.getAttribute("data-page") === "site") {
    document.getElementById("visits").addEventListener("visits-drawn", (ev) => decorateVisits(ev.detail));
    return;
  }
  if (document.body.getAttribute("data-page") !== "board") return;
  document.getElementById("grid").addEventListener("grid-drawn", (ev) => decorate(ev.detail));
  document.getElementById("edit-keep").addEventListener("click", () => keep());
  document.getElementById("edit-cancel").addEventListener("click", () => { closePanel(); say(W("js.nothing_kept")); });
});
