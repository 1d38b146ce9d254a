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
  const upload = document.querySelector("form.js-upload");
  if (upload) streamUpload(upload);
  for (const form of document.querySelectorAll("form.js-predict")) tryModel(form);
});

// The upload form sends the file itself as the request body (the browser streams it), with the
// spec options in the query string, as the API takes them; a refusal is shown on the page.
function streamUpload(form) {
  const status = form.querySelector(".upload-status"), error = form.querySelector(".upload-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.querySelector("input[type=file]").files[0];
    error.hidden = true;
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (key === "file" || typeof value !== "string" || !value.trim()) continue;
      params.append(key, value.trim());
    }
    if (file && !params.has("name")) params.set("name", file.name);
    status.textContent = file ? `Uploading ${file.name}…` : "";
    status.hidden = !file;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(`${form.action}?${params}`, {
        method: "POST", body: file || "", credentials: "same-origin",
        headers: { "X-CSRF-Token": form.dataset.csrf, "Accept": "application/json",
                   "Content-Type": (file && file.type) || "application/octet-stream" },
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok && data.location) { window.location.assign(data.location); return; }
      showProblem(error, data, response.status);
    } catch (failure) {
      showProblem(error, { detail: String(failure) }, 0);
    } finally {
      status.hidden = true;
      button.disabled = false;
    }
  });
}

function showProblem(box, problem, code) {
  box.replaceChildren();
  const head = document.createElement("strong");
  head.textContent = problem.title || (code ? `Error ${code}` : "Error");
  const detail = document.createElement("p");
  detail.textContent = problem.detail || "the request failed";
  box.append(head, detail);
  if (Array.isArray(problem.reasons) && problem.reasons.length) {
    const list = document.createElement("ul");
    list.className = "reasons";
    for (const reason of problem.reasons) {
      const item = document.createElement("li");
      item.textContent = reason;
      list.append(item);
    }
    box.append(list);
  }
  box.hidden = false;
}

// A job page follows its server-sent events: progress redraws the bar, the fields and the loss
// curve (the same scaling as the server's drawing in charts.py), log lines are appended, and the
// page reloads once the job has ended so that it shows the final state and the model.
function followJob(root) {
  const svg = root.querySelector("svg.chart.line");
  const points = svg ? JSON.parse(svg.dataset.train || "[]") : [];
  const evals = svg ? JSON.parse(svg.dataset.eval || "[]") : [];
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
      if (svg) drawLines(svg, { train: points, eval: evals });
    }
  });
  source.addEventListener("end", () => {
    source.close();
    window.setTimeout(() => window.location.reload(), 500);
  });
}

// charts.nice_ticks: steps of 1, 2, 2.5 or 5 times a power of ten; whole steps for the x axis;
// never below `floor` unless the data is.
function niceTicks(lo, hi, { integer = false, floor = null } = {}) {
  const aboveFloor = floor !== null && lo >= floor;
  if (hi <= lo) { const half = Math.abs(lo) * 0.1 || 0.5; lo -= half; hi += half; }
  if (aboveFloor) lo = Math.max(lo, floor);
  const raw = (hi - lo) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * 0.999);
  if (integer) step = Math.max(1, Math.ceil(step));
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const ticks = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toFixed(12)));
  return ticks;
}

function tickLabels(ticks) {
  for (let d = 0; d < 8; d++) {
    const labels = ticks.map((t) => t.toFixed(d));
    if (labels.every((l, i) => Math.abs(Number(l) - ticks[i]) < 1e-9)) return labels;
  }
  return ticks.map((t) => t.toPrecision(3));
}

function drawLines(svg, series) {
  const ns = "http://www.w3.org/2000/svg";
  const width = svg.viewBox.baseVal.width, height = svg.viewBox.baseVal.height;
  const left = Number(svg.dataset.left), bottom = Number(svg.dataset.bottom);
  const pad = Number(svg.dataset.pad || 12);
  const every = Object.values(series).flat();
  if (!every.length) return;
  const xs = niceTicks(Math.min(0, ...every.map((p) => p[0])), Math.max(...every.map((p) => p[0])),
    { integer: true });
  const ys = niceTicks(Math.min(...every.map((p) => p[1])), Math.max(...every.map((p) => p[1])),
    { floor: 0 });
  const [x0, x1, y0, y1] = [xs[0], xs[xs.length - 1], ys[0], ys[ys.length - 1]];
  const plotW = width - left - pad, plotH = height - bottom - pad;
  const sx = (x) => left + plotW * (x - x0) / (x1 - x0);
  const sy = (y) => pad + plotH * (1 - (y - y0) / (y1 - y0));
  for (const [name, pts] of Object.entries(series)) {
    const line = svg.querySelector(`polyline.chart-line.${name}`);
    if (line) line.setAttribute("points", pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "));
  }
  const make = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const yGroup = svg.querySelector("g.y-ticks"), xGroup = svg.querySelector("g.x-ticks");
  if (yGroup) {
    yGroup.replaceChildren();
    tickLabels(ys).forEach((label, i) => {
      const y = sy(ys[i]).toFixed(1);
      yGroup.append(make("line", { class: "chart-grid", x1: left, y1: y, x2: width - pad, y2: y }));
      yGroup.append(make("text", { class: "chart-tick y-tick", x: left - 6, y: (Number(y) + 4).toFixed(1),
        "text-anchor": "end" }, label));
    });
  }
  if (xGroup) {
    xGroup.replaceChildren();
    tickLabels(xs).forEach((label, i) => {
      xGroup.append(make("text", { class: "chart-tick x-tick", x: sx(xs[i]).toFixed(1),
        y: height - bottom + 16, "text-anchor": "middle" }, label));
    });
  }
  const empty = document.querySelector(".chart-empty");
  if (empty) empty.hidden = true;
}
