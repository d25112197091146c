// rvrota board: the week's grid by keyboard. One cell is in the tab order at a time (a
// roving tabindex); the arrow keys move between cells, Home/End to a row's ends (with Ctrl:
// the grid's), Enter or Space use the cell's first button (add a visit, pin). The cell's
// own buttons stay reachable with Tab from it.
"use strict";

const gridKeys = { row: 0, col: 0 };

function gridRows() {
  return Array.from(document.querySelectorAll("#grid tbody tr")).map((tr) => Array.from(tr.querySelectorAll("td")));
}

function cellAt(rows, r, c) {
  const row = rows[r];
  if (!row || !row.length) return null;
  return row[Math.min(c, row.length - 1)];
}

function focusCell(rows, r, c, move) {
  r = Math.max(0, Math.min(rows.length - 1, r));
  const row = rows[r];
  if (!row) return;
  c = Math.max(0, Math.min(row.length - 1, c));
  const td = cellAt(rows, r, c);
  if (!td) return;
  for (const other of document.querySelectorAll("#grid tbody td[tabindex='0']")) other.tabIndex = -1;
  td.tabIndex = 0;
  gridKeys.row = r;
  gridKeys.col = c;
  if (move) td.focus();
}

function onGridKey(ev) {
  const td = ev.target.closest && ev.target.closest("#grid tbody td");
  if (!td || ev.target !== td) return; // a button inside the cell keeps its own keys
  const rows = gridRows();
  const r = rows.findIndex((row) => row.includes(td));
  const c = rows[r].indexOf(td);
  const last = rows[r].length - 1;
  const moves = {
    ArrowLeft: [r, c - 1], ArrowRight: [r, c + 1], ArrowUp: [r - 1, c], ArrowDown: [r + 1, c],
    Home: ev.ctrlKey ? [0, 0] : [r, 0], End: ev.ctrlKey ? [rows.length - 1, last] : [r, last],
  };
  if (ev.key in moves) {
    ev.preventDefault();
    const [nr, nc] = moves[ev.key];
    focusCell(rows, nr, nc, true);
  } else if (ev.key === "Enter" || ev.key === " ") {
    const button = td.querySelector("button");
    if (button) { ev.preventDefault(); button.click(); }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.getAttribute("data-page") !== "board") return;
  const grid = document.getElementById("grid");
  grid.addEventListener("keydown", onGridKey);
  grid.addEventListener("focusin", (ev) => {
    const td = ev.target.closest && ev.target.closest("#grid tbody td");
    if (!td) return;
    const rows = gridRows();
    const r = rows.findIndex((row) => row.includes(td));
    if (r >= 0) focusCell(rows, r, rows[r].indexOf(td), false);
  });
  grid.addEventListener("grid-drawn", () => {
    const rows = gridRows();
    for (const row of rows) for (const td of row) td.tabIndex = -1;
    focusCell(rows, gridKeys.row, gridKeys.col, false); // the same place after a redraw
  });
});
