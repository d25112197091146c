// rvrota board: the map of the week's sites and each RV-day route, drawn with Leaflet served
// from the app's own files. Tiles come from the map_tile_url setting (data-tiles); without
// it, or when they fail to load, the map still draws the sites and routes on a plain
// background (offline). Uses app.js (api, el, W, P, pick, board, ...) and drafts.js
// (weekDates, dayWords).
"use strict";

const COLOURS = ["#1f5f99", "#a32020", "#1d6b46", "#8a5200", "#6a3d9a", "#0d6b5a", "#7a4b2a", "#3f4a56"];
const mapView = { map: null, layer: null, data: null, tiles: null, failed: false };

function mapColour(vehicle) {
  const i = board.schedule.vehicles.indexOf(vehicle);
  return COLOURS[(i < 0 ? 0 : i) % COLOURS.length];
}

function makeMap() {
  const box = document.getElementById("map");
  const tiles = box.getAttribute("data-tiles");
  const map = L.map(box, { preferCanvas: true, attributionControl: !!tiles, zoomSnap: 0.25, zoomControl: false });
  L.control.zoom({ zoomInTitle: W("map.zoom_in"), zoomOutTitle: W("map.zoom_out") }).addTo(map);
  if (tiles) {
    mapView.tiles = L.tileLayer(tiles, { attribution: box.getAttribute("data-attribution") || "", maxZoom: 18 });
    mapView.tiles.on("tileerror", () => {
      if (mapView.failed) return;
      mapView.failed = true;
      box.classList.add("offline");
      document.getElementById("map-state").textContent = W("map.tiles_failed");
    });
    mapView.tiles.addTo(map);
  } else {
    box.classList.add("offline");
  }
  mapView.map = map;
}

function drawMap() {
  const data = mapView.data;
  if (!data || !mapView.map) return;
  const day = document.getElementById("map-day").value;
  if (mapView.layer) mapView.layer.remove();
  const layer = L.featureGroup();
  let sites = 0, routes = 0;
  const used = new Set();
  for (const f of data.features) {
    const p = f.properties;
    if (p.kind === "route") {
      if (day !== "" && String(p.day) !== day) continue;
      const line = L.polyline(f.geometry.coordinates.map(([lon, lat]) => [lat, lon]), { color: mapColour(p.vehicle), weight: 3, opacity: 0.85 });
      line.bindTooltip(W("map.route", { vehicle: p.vehicle, date: dayWords(p.date), stops: p.sites.length }));
      line.options.vehicle = p.vehicle;
      layer.addLayer(line);
      used.add(p.vehicle);
      routes++;
    }
  }
  for (const f of data.features) {
    const p = f.properties;
    if (p.kind !== "site") continue;
    const [lon, lat] = f.geometry.coordinates;
    const dot = L.circleMarker([lat, lon], { radius: 3 + Math.min(7, Math.sqrt(p.headcount || 0) / 6), color: "#1d2733", weight: 1, fillColor: "#f0b429", fillOpacity: 0.9 });
    dot.bindTooltip(W("map.site", { site: p.name || p.id, count: p.headcount ?? "–" }));
    layer.addLayer(dot);
    sites++;
  }
  layer.addTo(mapView.map);
  mapView.layer = layer;
  if (layer.getLayers().length) mapView.map.fitBounds(layer.getBounds(), { padding: [12, 12] });
  const box = document.getElementById("map");
  box.setAttribute("data-sites", String(sites));
  box.setAttribute("data-routes", String(routes));
  const state = document.getElementById("map-state");
  const summary = W("map.summary", { sites, routes });
  state.textContent = box.classList.contains("offline") ? summary + " · " + (mapView.failed ? W("map.tiles_failed") : W("map.offline")) : summary;
  const legend = document.getElementById("map-legend");
  legend.replaceChildren(...Array.from(used).sort().map((v) => el("li", {}, el("span", { class: "map-swatch", style: "" }), v)));
  legend.querySelectorAll(".map-swatch").forEach((sw, i) => { sw.style.background = mapColour(Array.from(used).sort()[i]); });
}

async function loadMap() {
  if (!board.schedule || typeof L === "undefined") return;
  if (!mapView.map) makeMap();
  const where = "region=" + encodeURIComponent(board.schedule.region) + "&week=" + encodeURIComponent(board.schedule.week);
  mapView.data = await api("GET", "/schedule.geojson?" + where);
  const select = document.getElementById("map-day");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, W("map.all_days")),
    ...weekDates().map((d, i) => el("option", { value: String(i) }, pick(dayWords(isoDate(d))))));
  select.value = chosen;
  drawMap();
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.getAttribute("data-page") !== "board") return;
  document.getElementById("grid").addEventListener("grid-drawn", () => loadMap().catch((e) => say(e.message, true)));
  document.getElementById("map-day").addEventListener("change", () => drawMap());
});
