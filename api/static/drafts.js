// rvrota board: drafts ("what if"). A dispatcher makes a draft from the plan in force, adds
// changes, plans the week with them (nobody is told), compares it with the plan in force,
// then publishes or drops it. Uses app.js (api, el, say, W, P, pick, board, drawDiffBody, ...).
"use strict";

const drafts = { open: null, changes: [], list: [] };

function draftWhere() {
  return "region=" + encodeURIComponent(board.schedule.region) + "&week=" + encodeURIComponent(board.schedule.week);
}

function weekDates() {
  const start = utcDate(board.schedule.start_date), out = [];
  for (let d = 0; d < board.schedule.days; d++) out.push(addDays(start, d));
  return out;
}

function dayWords(iso) {
  const d = utcDate(iso);
  return P("js.day_head", { date: shortDate(d), weekday: weekdayOf(d) });
}

function siteNameOf(id) {
  const s = (edit.sites || []).find((x) => x.id === id);
  return (s && s.name) || id;
}

function changeWords(c) {
  const dates = (c.dates || []).map(dayWords);
  const joined = [dates.map((x) => x[0]).join("、"), dates.map((x) => x[1]).join(", ")];
  const when = c.date ? P("js.cell_when", { date: shortDate(utcDate(c.date)), weekday: weekdayOf(utcDate(c.date)), slot: slotWords(c.slot) }) : "";
  const version = c.plan ? (board.versions.find((v) => v.id === c.plan) || {}).version || c.plan : "";
  return W("drafts.change." + c.kind, { vehicle: c.vehicle || "", site: siteNameOf(c.site), dates: joined, count: c.count ?? "", town: c.town || "", when, version });
}

function showFields() {
  const kind = document.getElementById("draft-kind").value;
  for (const label of document.querySelectorAll("#draft-change label[data-for]")) {
    label.hidden = !label.getAttribute("data-for").split(" ").includes(kind);
  }
}

async function fillChoices() {
  const sched = board.schedule;
  document.getElementById("draft-vehicle").replaceChildren(...sched.vehicles.map((v) => el("option", { value: v }, v)));
  const sites = await loadSites();
  document.getElementById("draft-site").replaceChildren(...sites.map((s) => el("option", { value: s.id }, (s.name || s.id) + " (" + s.id + ")")));
  document.getElementById("draft-date").replaceChildren(...weekDates().map((d) => el("option", { value: isoDate(d) }, pick(dayWords(isoDate(d))))));
  document.getElementById("draft-slot").replaceChildren(...sched.slots.map((s) => el("option", { value: s.id }, pick(slotWords(s.id)))));
  document.getElementById("draft-version").replaceChildren(...board.versions.map((v) => el("option", { value: String(v.id) }, W("js.version", { version: v.version }))));
}

function readChange() {
  const kind = document.getElementById("draft-kind").value;
  const v = (id) => document.getElementById(id).value;
  const c = { kind };
  if (["vehicle_out", "add", "remove"].includes(kind)) c.vehicle = v("draft-vehicle");
  if (["headcount", "site_closed", "add", "remove"].includes(kind)) c.site = v("draft-site");
  if (["vehicle_out", "site_closed", "town_closed", "region_closed"].includes(kind)) c.dates = [v("draft-date")];
  if (["add", "remove"].includes(kind)) { c.date = v("draft-date"); c.slot = v("draft-slot"); }
  if (kind === "headcount") c.count = Number(v("draft-count"));
  if (kind === "town_closed") c.town = v("draft-town").trim();
  if (kind === "restore") c.plan = Number(v("draft-version"));
  return c;
}

function drawChanges() {
  const ul = document.getElementById("draft-changes");
  ul.replaceChildren();
  if (!drafts.changes.length) ul.append(el("li", { class: "muted" }, W("drafts.no_changes")));
  drafts.changes.forEach((c, i) => {
    const words = changeWords(c);
    const remove = el("button", { type: "button", class: "remove-change" }, "✕");
    remove.setAttribute("aria-label", W("drafts.remove_change", { change: words }));
    remove.addEventListener("click", () => { drafts.changes.splice(i, 1); drawChanges(); });
    ul.append(el("li", { "data-kind": c.kind }, words, " ", remove));
  });
}

async function loadDrafts() {
  if (!board.schedule) return;
  drafts.list = await api("GET", "/drafts?" + draftWhere());
  const ul = document.getElementById("draft-list");
  ul.replaceChildren();
  if (!drafts.list.length) ul.append(el("li", { class: "muted" }, W("drafts.none")));
  for (const d of drafts.list) {
    const b = el("button", { type: "button", class: "open-draft" }, W("drafts.open"));
    b.setAttribute("aria-label", W("drafts.open_label", { name: d.name || "#" + d.id }));
    b.addEventListener("click", () => openDraft(d).catch((e) => say(e.message, true)));
    ul.append(el("li", { "data-draft": String(d.id) }, el("b", {}, d.name || "#" + d.id), " · " + statsSentence(d.stats, d.sessions) + " ", b));
  }
}

async function openDraft(d) {
  drafts.open = d;
  drafts.changes = (d.changes || []).map((c) => Object.assign({}, c));
  document.getElementById("draft").hidden = false;
  document.getElementById("draft-title").textContent = d.name || "#" + d.id;
  document.getElementById("draft-state").textContent = "";
  await fillChoices();
  showFields();
  drawChanges();
  await showDraftDiff();
  document.getElementById("draft-kind").focus();
}

async function showDraftDiff() {
  const d = drafts.open;
  const c = await api("GET", "/drafts/" + d.id + "/compare");
  document.getElementById("draft-diff").hidden = false;
  document.getElementById("draft-diff-title").textContent = W("drafts.compare_title", { name: d.name || "#" + d.id, version: c.in_force_version });
  document.getElementById("draft-diff-stale").hidden = !c.stale;
  drawDiffBody(c, "draft-diff");
  document.getElementById("draft-unserved").textContent = W("drafts.unserved", { count: (d.unserved || []).length });
}

async function solveDraft() {
  const d = drafts.open;
  const state = document.getElementById("draft-state");
  state.textContent = W("drafts.solving");
  try {
    drafts.open = await api("PATCH", "/drafts/" + d.id, { changes: drafts.changes });
    state.textContent = W("drafts.solved", { stats: statsSentence(drafts.open.stats, drafts.open.sessions) });
    await showDraftDiff();
    await loadDrafts();
  } catch (e) { state.textContent = e.message; }
}

async function publishDraft() {
  const d = drafts.open;
  try {
    const r = await api("POST", "/drafts/" + d.id + "/publish", undefined, { "Idempotency-Key": idemKey() });
    say(r.published ? W("drafts.published", { version: r.version }) : W("drafts.unchanged"));
    closeDraft();
    await loadBoard();
  } catch (e) { document.getElementById("draft-state").textContent = e.message; }
}

async function dropDraft() {
  const d = drafts.open;
  try {
    await api("DELETE", "/drafts/" + d.id);
    say(W("drafts.dropped"));
    closeDraft();
    await loadDrafts();
  } catch (e) { say(e.message, true); }
}

function closeDraft() {
  drafts.open = null;
  drafts.changes = [];
  document.getElementById("draft").hidden = true;
  document.getElementById("draft-diff").hidden = true;
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.getAttribute("data-page") !== "board") return;
  // the drafts of the week shown: reloaded whenever the board draws a week
  document.getElementById("grid").addEventListener("grid-drawn", () => loadDrafts().catch((e) => say(e.message, true)));
  document.getElementById("draft-new").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = document.getElementById("draft-name").value.trim();
    try {
      const d = await api("POST", "/drafts", { region: board.schedule.region, week: board.schedule.week, name });
      say(W("drafts.made", { name }));
      document.getElementById("draft-name").value = "";
      await loadDrafts();
      await openDraft(d);
    } catch (e) { say(e.message, true); }
  });
  document.getElementById("draft-kind").addEventListener("change", showFields);
  document.getElementById("draft-change").addEventListener("submit", (ev) => {
    ev.preventDefault();
    drafts.changes.push(readChange());
    drawChanges();
  });
  document.getElementById("draft-solve").addEventListener("click", () => solveDraft());
  document.getElementById("draft-publish").addEventListener("click", () => publishDraft());
  document.getElementById("draft-drop").addEventListener("click", () => dropDraft());
  document.getElementById("draft-close").addEventListener("click", () => closeDraft());
});
