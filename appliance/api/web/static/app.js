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

// A job page follows its server-sent events: progress redraws the bar, the fields and the loss
// curve (the same scaling as the server's first drawing), log lines are appended, and the page
// reloads once the job has ended so that it shows the final state and the model.
function followJob(root) {
  const svg = root.querySelector("svg.chart.line");
  const points = [];
  const source = new EventSource(root.dataset.liveJob);
  source.addEventListener("log", (event) => {
    const line = JSON.parse(event.data);
    const log = root.querySelector("pre.log");
    if (!log) return;
    log.textContent += `${line.at.slice(11, 19)}  ${line.line}\n`;
    log.scrollTop = log.scrollHeight;
  });
  source.addEventListener("progress", (event) => {
    const data = JSON.parse(event.data);
    const p = data.progress || {};
    const state = document.querySelector("[data-field=state]");
    if (state) { state.textContent = data.state; state.className = `badge big job-${data.state.toLowerCase()}`; }
    for (const el of root.querySelectorAll("[data-progress]")) {
      const value = p[el.dataset.progress];
      if (value === undefined || value === null) continue;
      if (el.dataset.progress === "loss") el.textContent = Number(value).toFixed(4);
      else if (el.dataset.progress === "eta_s") el.textContent = `${Math.round(value)} s`;
      else el.textContent = value;
    }
    const bar = root.querySelector("progress");
    if (bar && typeof data.fraction === "number") bar.value = data.fraction;
    if (typeof p.step === "number" && typeof p.loss === "number" &&
        (!points.length || p.step > points[points.length - 1][0])) {
      points.push([p.step, p.loss]);
      if (svg && points.length >= 2) drawLine(svg, points);
    }
  });
  source.addEventListener("end", () => {
    source.close();
    window.setTimeout(() => window.location.reload(), 500);
  });
}

function drawLine(svg, points) {
  const width = svg.viewBox.baseVal.width, height = svg.viewBox.baseVal.height;
  const left = Number(svg.dataset.left), bottom = Number(svg.dataset.bottom), pad = 12;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const plotW = width - left - pad, plotH = height - bottom - pad;
  const sx = (x) => left + plotW * (x - x0) / (x1 - x0);
  const sy = (y) => pad + plotH * (1 - (y - y0) / (y1 - y0));
  svg.querySelector("polyline").setAttribute("points",
    points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "));
  svg.querySelectorAll(".x-tick").forEach((el, i) => {
    const value = x0 + (x1 - x0) * i / 4;
    el.setAttribute("x", sx(value).toFixed(1));
    el.textContent = value.toFixed(0);
  });
  const grid = svg.querySelectorAll(".chart-grid");
  svg.querySelectorAll(".y-tick").forEach((el, i) => {
    const value = y0 + (y1 - y0) * i / 4;
    const y = sy(value);
    el.setAttribute("y", (y + 4).toFixed(1));
    el.textContent = Number(value.toPrecision(3)).toString();
    if (grid[i]) { grid[i].setAttribute("y1", y.toFixed(1)); grid[i].setAttribute("y2", y.toFixed(1)); }
  });
  const empty = document.querySelector(".chart-empty");
  if (empty) empty.hidden = true;
}
