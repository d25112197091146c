// rvrota driver page, offline: a service worker that keeps the page and its last answers.
// Network first: every answer that comes is kept; without a network the kept one is
// served, so today's next stop, today's stops and the change list stay readable in a dead zone.
// Writes (status reports) and the change stream always go to the network.
"use strict";

const CACHE = "rvrota-driver-v1";
const SHELL = [
  "/driver",
  "/static/app.js",
  "/static/app.css",
  "/static/checkin.css",
  "/static/driver_checkin.js",
  "/static/driver_offline.js",
];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function kept(url, request) {
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  const p = url.pathname;
  if (p === "/api/v1/me/stream") return false;
  return p === "/driver" || p.startsWith("/static/") || p === "/api/v1/me" ||
    p.startsWith("/api/v1/vehicles/") || p.startsWith("/api/v1/me/notifications") ||
    p === "/api/v1/schedule";
}

// the page words it (app.js errorText: code "offline")
const OFFLINE = JSON.stringify({ detail: "offline, nothing saved", code: "offline" });

self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (!kept(url, ev.request)) return;
  ev.respondWith(
    fetch(ev.request)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          ev.waitUntil(caches.open(CACHE).then((c) => c.put(ev.request, copy)));
        }
        return res;
      })
      .catch(async () => {
        const hit = (await caches.match(ev.request)) || (await caches.match(ev.request, { ignoreSearch: true }));
        return hit || new Response(OFFLINE, { status: 503, headers: { "Content-Type": "application/json" } });
      }),
  );
});

// a sign-out or another user on this phone: forget what was kept
self.addEventListener("message", (ev) => {
  if (ev.data === "forget") ev.waitUntil(caches.delete(CACHE));
});
