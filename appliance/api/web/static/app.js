// The console's only script: served by the appliance, no external code. Pages work without it;
// it adds confirmations, auto-submitting filters, live job updates and the streamed chat.
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
  const chat = document.querySelector("[data-chat]");
  if (chat) chatPage(chat);
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
      if (el.dataset.progress === "loss" || el.dataset.progress === "reward") {
        el.textContent = Number(value).toFixed(4);
      }
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

// The chat page: each pane is one model and its own conversation (answers differ, so each model
// is sent the history it produced). A message goes to every visible pane at once, each answer
// streamed as server-sent events read from the fetch body (EventSource cannot POST). Text is
// only ever set as text; the guard's <ENTITY> placeholders are then marked.
function chatPage(root) {
  const form = root.querySelector("form.chat-form");
  const input = form.querySelector("#chat-input");
  const send = form.querySelector(".chat-send"), reset = form.querySelector(".chat-reset");
  const error = root.querySelector(".chat-error");
  const compare = root.querySelector("#chat-compare");
  const compareBox = root.querySelector(".chat-compare");
  const selects = [...root.querySelectorAll("[data-pane-select]")];
  const panes = [...root.querySelectorAll(".chat-pane")].map((el, i) => (
    { el, select: selects[i], log: el.querySelector(".chat-log"), title: el.querySelector(".pane-title"), history: [] }));
  root.querySelector(".chat-panes").hidden = false;
  compareBox.hidden = false;
  reset.hidden = false;
  const old = root.querySelector(".chat-answer");
  if (old) old.remove();
  const showPanes = () => {
    panes[1].el.hidden = !compare.checked;
    panes[1].select.disabled = !compare.checked;
    root.classList.toggle("comparing", compare.checked);
    for (const pane of panes) pane.title.textContent = pane.select.value;
  };
  // A reset starts a new conversation: an answer still finishing belongs to the old one and
  // must not land in the new history (it would be sent with the next message).
  const clear = (pane) => { pane.history = []; pane.log.replaceChildren(); };  // a new array
  compare.checked = compare.dataset.default === "on";
  compare.addEventListener("change", () => {
    const base = panes[0].select.selectedOptions[0]?.dataset.base;
    if (compare.checked && base && [...panes[1].select.options].some((o) => o.value === base) &&
        panes[1].select.value === panes[0].select.value) panes[1].select.value = base;
    clear(panes[1]);
    showPanes();
  });
  for (const pane of panes) pane.select.addEventListener("change", () => { clear(pane); showPanes(); });
  reset.addEventListener("click", () => { panes.forEach(clear); error.hidden = true; input.focus(); });
  showPanes();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    error.hidden = true;
    input.value = "";
    send.disabled = true;
    try {
      await Promise.all(panes.filter((p) => !p.el.hidden).map((p) => ask(p, text)));
    } finally {
      send.disabled = false;
      input.focus();
    }
  });

  function options() {
    const out = {};
    for (const field of form.querySelectorAll("[data-option]")) {
      const value = field.value.trim();
      if (value === "") continue;
      out[field.dataset.option] = Number(value);
    }
    return out;
  }

  function bubble(pane, role, text) {
    const item = document.createElement("li");
    item.className = `turn turn-${role}`;
    const body = document.createElement("div");
    body.className = "turn-text";
    body.textContent = text;
    item.append(body);
    pane.log.append(item);
    return item;
  }

  async function ask(pane, text) {
    const history = pane.history;
    history.push({ role: "user", content: text });
    bubble(pane, "user", text);
    const item = bubble(pane, "assistant", "");
    item.classList.add("streaming");
    const body = item.querySelector(".turn-text");
    const meta = document.createElement("p");
    meta.className = "turn-meta muted small";
    item.append(meta);
    let answer = "", ended = false;
    try {
      const response = await fetch(root.dataset.stream, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream",
                   "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify({ model: pane.select.value, messages: history, ...options() }),
      });
      const type = response.headers.get("content-type") || "";
      if (!response.ok || !type.startsWith("text/event-stream")) {
        const problem = await response.json().catch(() => ({
          detail: response.redirected ? "your session has ended: reload the page and sign in" : `HTTP ${response.status}` }));
        throw Object.assign(new Error(problem.detail || "the request failed"), { problem, status: response.status });
      }
      for await (const [name, data] of readEvents(response)) {
        if (name === "token") { answer += data.text; body.textContent = answer; pane.log.scrollTop = pane.log.scrollHeight; }
        else if (name === "withheld") { answer = data.notice; body.textContent = answer; item.classList.add("withheld"); }
        else if (name === "error") throw Object.assign(new Error(data.detail), { problem: data, status: data.status });
        else if (name === "end") { ended = true; meta.textContent = endNote(data); }
      }
      if (!ended) throw new Error("the answer stopped before its end");
      history.push({ role: "assistant", content: answer });  // the conversation it was asked in
      markPlaceholders(body);
    } catch (failure) {
      history.pop();
      item.classList.add("failed");
      showProblem(error, failure.problem || { detail: String(failure.message || failure) }, failure.status || 0);
      if (!answer) item.remove();
    } finally {
      item.classList.remove("streaming");
    }
  }
}

function endNote(data) {
  const parts = [`${data.output_tokens} tokens`, data.finish];
  const found = Object.entries(data.pii || {}).map(([k, n]) => `${k} ${n}`);
  if (found.length) parts.push(`output guard ${data.withheld ? "withheld" : "redacted"}: ${found.join(", ")}`);
  return parts.join(" · ");
}

async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) yield [name, JSON.parse(data)];
    }
  }
}

// <EMAIL_ADDRESS> and the like as <mark> elements, built node by node (never as HTML).
function markPlaceholders(el) {
  const text = el.textContent;
  const parts = text.split(/(<[A-Z][A-Z_]{1,40}>)/);
  if (parts.length === 1) return;
  el.replaceChildren(...parts.filter((p) => p).map((part) => {
    if (!/^<[A-Z][A-Z_]{1,40}>$/.test(part)) return document.createTextNode(part);
    const mark = document.createElement("mark");
    mark.textContent = part;
    return mark;
  }));
}
