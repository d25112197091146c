// rvrota driver page: registers the offline service worker (/driver-sw.js) and says
// when the page shows what was kept rather than what the network says.
"use strict";

function showOffline() {
  const line = document.getElementById("offline-line");
  if (line) line.hidden = navigator.onLine;
}

document.addEventListener("DOMContentLoaded", () => {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/driver-sw.js", { scope: "/" })
      .catch((e) => { console.warn("offline mode unavailable", e); });
  }
  showOffline();
  window.addEventListener("online", showOffline);
  window.addEventListener("offline", showOffline);
});
