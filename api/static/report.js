"use strict";
// The union's service report (/report, dispatchers): totals, the charts drawn on the server
// (SVG, shown as images), the sites overdue, and the files (CSV, XLSX, PDF) for the federation.
// Uses api(), token(), say(), el(), W() and LANG of app.js: the files and charts in the page's
// language (lang=), else the user's.

function reportQuery() {
  const region = document.getElementById("report-region").value.trim();
  const from = document.getElementById("report-from").value;
  const to = document.getElementById("report-to").value;
  return "from=" + from + "&to=" + to + (region ? "&region=" + encodeURIComponent(region) : "") +
    (LANG ? "&lang=" + LANG : "");
}

async function showReport() {
  const q = reportQuery();
  const [report, charts] = await Promise.all([
    api("GET", "/reports/service?" + q),
    api("GET", "/reports/service/charts?" + q),
  ]);
  document.getElementById("r-visits").textContent = String(report.person_visits);
  document.getElementById("r-sites").textContent = report.sites_reached + " / " + report.region_sites;
  document.getElementById("r-workers").textContent = report.workers_reached + " / " + report.region_workers;
  document.getElementById("r-overdue").textContent = String(report.sites_overdue.length);
  const box = document.getElementById("report-charts");
  box.replaceChildren();
  for (const [name, svg] of Object.entries(charts.charts)) {
    const img = el("img", { class: "chart", "data-chart": name });
    img.alt = charts.titles[name];
    img.src = "data:image/svg+xml;base64," + btoa(unescape(encodeURIComponent(svg)));
    box.append(el("figure", {}, img));
  }
  const list = document.getElementById("r-overdue-list");
  list.replaceChildren(...report.sites_overdue.map((s) => el("li", {}, (report.site_names[s] || s) + " (" + s + ")")));
  say(W("report.shown"));
}

async function downloadReport(format) {
  const res = await fetch("/api/v1/reports/service?" + reportQuery() + "&format=" + format,
                          { headers: { Authorization: "Bearer " + token(), "Accept-Language": LANG || "*" } });
  if (!res.ok) { say(W("report.export_failed", { status: res.status }), true); return; }
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: "service-report." + format });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  say(W("report.exported", { format: format.toUpperCase() }));
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.getAttribute("data-page") !== "report" || !token()) return;
  const params = new URLSearchParams(location.search);
  const to = params.get("to") || new Date().toISOString().slice(0, 10);
  const from = params.get("from") || new Date(Date.parse(to) - 27 * 86400000).toISOString().slice(0, 10);
  document.getElementById("report-from").value = from;
  document.getElementById("report-to").value = to;
  document.getElementById("report-region").value = params.get("region") || "";
  document.getElementById("report-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    showReport().catch((e) => say(e.message, true));
  });
  for (const button of document.querySelectorAll("button[data-format]")) {
    button.addEventListener("click", () => downloadReport(button.getAttribute("data-format")).catch((e) => say(e.message, true)));
  }
  showReport().catch((e) => say(e.message, true));
});
