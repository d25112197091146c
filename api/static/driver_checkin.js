"use strict";
// The driver page's check-in code: while the next session takes check-ins (30 minutes
// before its start to 30 minutes after its end, by the service clock) its QR code is
// shown large, printable for the RV's door; staff head counts at the door go from here.

const checkinState = { session: null };

function checkinHeaders(extra) {
  return Object.assign({ Authorization: "Bearer " + sessionStorage.getItem("rvrota.token") }, extra || {});
}

function checkinSay(text, bad) {
  const m = document.getElementById("message");
  if (!m) return;
  m.textContent = text;
  m.classList.toggle("bad", !!bad);
}

async function loadCheckinCode() {
  const section = document.getElementById("checkin-qr");
  const vehicle = (await (await fetch("/api/v1/me", { headers: checkinHeaders() })).json()).vehicle;
  if (!vehicle) return;
  const stop = await fetch("/api/v1/vehicles/" + encodeURIComponent(vehicle) + "/next-stop", { headers: checkinHeaders() });
  if (stop.status !== 200) { section.hidden = true; return; }
  const next = await stop.json();
  const r = await fetch("/api/v1/sessions/" + next.session_id + "/checkin-token", { headers: checkinHeaders() });
  if (r.status !== 200) { section.hidden = true; return; }
  const code = await r.json();
  checkinState.session = code.session_id;
  if (!code.open_now) { section.hidden = true; return; }
  const holder = document.getElementById("qr");
  // the SVG is made by our server (segno) from the link alone, shown as an image (data:)
  const img = document.createElement("img");
  img.alt = W("driver.qr_alt");
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(code.qr_svg);
  holder.replaceChildren(img);
  document.getElementById("qr-link").textContent = code.url;
  section.hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  if (!sessionStorage.getItem("rvrota.token")) return;
  loadCheckinCode().catch(() => {});
  setInterval(() => { loadCheckinCode().catch(() => {}); }, 60000);
  document.getElementById("qr-print").addEventListener("click", () => {
    document.body.classList.add("printing-qr");
    window.print();
    document.body.classList.remove("printing-qr");
  });
  document.getElementById("door-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!checkinState.session) return;
    const body = { count: Number(document.getElementById("door-count").value) };
    const amenity = document.getElementById("door-amenity").value;
    if (amenity) body.amenity = amenity;
    const key = crypto.getRandomValues(new Uint32Array(4)).join("-");
    const r = await fetch("/api/v1/sessions/" + checkinState.session + "/door-counts", {
      method: "POST",
      headers: checkinHeaders({ "Content-Type": "application/json", "Idempotency-Key": key }),
      body: JSON.stringify(body),
    });
    if (r.status === 202) {
      checkinSay(W("driver.recorded", { count: body.count }));
      document.getElementById("door-count").value = "";
    } else {
      checkinSay(W("driver.not_recorded", { status: r.status }), true);
    }
  });
});
