// The console's only script: served by the appliance, no external code. Pages work without it;
// it adds confirmations, auto-submitting filters and live job updates.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.js-confirm")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm || "Are you sure?")) event.preventDefault();
    });
  }
  for (const select of document.querySelectorAll("select.js-autosubmit")) {
    select.addEventListener("change", () => select.form.submit());
  }
  const live = document.querySelector("[data-live-job]");
  if (live) followJob(live);
});

// A job page polls its own JSON view and redraws progress, state and the loss curve until the
// job is finished. Polling (not SSE) keeps it working through any proxy and costs one small
// request every two seconds.
function followJob(root) {
  const url = root.dataset.liveJob;
  const finished = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
  const tick = async () => {
    let data;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      data = await response.json();
    } catch (_) {
      setTimeout(tick, 5000);
      return;
    }
    for (const el of root.querySelectorAll("[data-field]")) {
      const value = data[el.dataset.field];
      if (value !== undefined && value !== null) el.textContent = value;
    }
    const bar = root.querySelector("progress");
    if (bar && typeof data.fraction === "number") bar.value = data.fraction;
    const line = root.querySelector("polyline.chart-line.train");
    if (line && data.chart) {
      line.setAttribute("points", data.chart.points);
      root.querySelectorAll(".x-tick").forEach((el, i) => { if (data.chart.x_ticks[i]) el.textContent = data.chart.x_ticks[i][1]; });
      root.querySelectorAll(".y-tick").forEach((el, i) => { if (data.chart.y_ticks[i]) el.textContent = data.chart.y_ticks[i][1]; });
    }
    const log = root.querySelector("pre.log");
    if (log && data.log) { log.textContent = data.log; log.scrollTop = log.scrollHeight; }
    if (!finished.has(data.state)) setTimeout(tick, 2000);
    else if (!root.dataset.reloaded) { root.dataset.reloaded = "1"; window.location.reload(); }
  };
  setTimeout(tick, 1500);
}
