// rvrota board: the sites the week's plan leaves overdue (longer than their max_gap_days
// without a visit), redrawn with the grid. Uses app.js (api, el).
"use strict";

const OVERDUE_BOTH = { "Accept-Language": "*" }; // the words in Chinese and English

async function drawOverdue(sched) {
  const ul = document.getElementById("overdue");
  const none = document.getElementById("overdue-none");
  if (!ul || !sched) return;
  const query = "?region=" + encodeURIComponent(sched.region) + "&week=" + encodeURIComponent(sched.week);
  const data = await api("GET", "/schedule/overdue" + query, undefined, OVERDUE_BOTH);
  if (data.week !== sched.week) return; // an older answer for another week
  ul.replaceChildren();
  for (const o of data.sites) {
    ul.append(el("li", { "data-site": o.site }, el("b", {}, o.site), " ", o.text));
  }
  none.hidden = data.sites.length > 0;
}

document.addEventListener("DOMContentLoaded", () => {
  const grid = document.getElementById("grid");
  if (!grid) return;
  grid.addEventListener("grid-drawn", (ev) => {
    drawOverdue(ev.detail).catch((e) => { document.getElementById("overdue-none").textContent = e.message; });
  });
});
