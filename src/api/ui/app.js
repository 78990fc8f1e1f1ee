// oneinit dashboard. Uses only the public API (/v1/...) and /ui/session.
// Every string that comes from services (names, log lines, status text) is
// put into the page with textContent, never as HTML.
"use strict";

const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
const state = { services: [], graph: { nodes: [], edges: [] }, session: null, logAbort: null, eventsAbort: null };

function token() { return sessionStorage.getItem("oneinit-token") || ""; }

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = token();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

function showError(msg) {
  const el = document.getElementById("error");
  if (msg) { el.textContent = msg; el.hidden = false; } else { el.textContent = ""; el.hidden = true; }
}

async function api(path, opts) {
  const o = Object.assign({}, opts || {});
  o.headers = headers(o.headers);
  // The API refuses a POST that is not JSON (cross-site request defence).
  if (o.method === "POST" && !o.headers["Content-Type"]) o.headers["Content-Type"] = "application/json";
  const res = await fetch(path, o);
  let body = null;
  const text = await res.text();
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) {
    const m = body && body.error ? body.error.message : res.status + " " + res.statusText;
    const err = new Error(m); err.status = res.status; throw err;
  }
  return body;
}

function el(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children || []) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

function fmtSecs(s) {
  if (s === null || s === undefined) return "-";
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
  return d ? d + "d" + h + "h" : h ? h + "h" + m + "m" : m ? m + "m" + r + "s" : r + "s";
}

function canOperate(name) {
  const s = state.session;
  return !!s && ROLE_RANK[s.role] >= ROLE_RANK.operator;
}

async function act(name, action) {
  try {
    showError("");
    if (action === "signal") {
      const sig = window.prompt("Signal to send to " + name + " (e.g. HUP, USR1, TERM)", "HUP");
      if (!sig) return;
      await api("/v1/services/" + encodeURIComponent(name) + "/signal", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ signal: sig }) });
    } else {
      await api("/v1/services/" + encodeURIComponent(name) + "/" + action, { method: "POST" });
    }
    await refresh();
  } catch (e) { showError(action + " " + name + ": " + e.message); }
}

function stateBadge(st) { return el("span", { class: "state st-" + st, text: st }); }

function renderServices() {
  const tbody = document.querySelector("#services tbody");
  tbody.replaceChildren();
  for (const s of state.services) {
    const pids = (s.instances || []).map(i => i.pid).filter(p => p).join(" ") || "-";
    const last = s.last_exit ? (s.last_exit.signal ? "signal " + s.last_exit.signal : "code " + s.last_exit.code) : "-";
    const actions = el("td", { class: "actions-col" });
    if (canOperate(s.name)) {
      const b = (label, action) => {
        const btn = el("button", { type: "button", "data-action": action, "data-service": s.name, text: label });
        btn.addEventListener("click", () => act(s.name, action));
        actions.appendChild(btn);
      };
      b("Start", "start"); b("Stop", "stop"); b("Restart", "restart"); b("Signal", "signal");
      if (s.type === "on-demand" || s.type === "per-demand") b("Trigger", "trigger");
    }
    const tr = el("tr", { "data-service": s.name }, [
      el("td", { text: s.name, title: s.description || "" }),
      el("td", { class: "opt", text: s.type }),
      el("td", { class: "state-cell" }, [stateBadge(s.state)]),
      el("td", { class: "health-" + s.health, text: s.health + (s.status_text ? " (" + s.status_text + ")" : "") }),
      el("td", { class: "opt", text: pids }),
      el("td", { class: "uptime", "data-base": s.uptime_seconds === null || s.uptime_seconds === undefined ? "" : String(s.uptime_seconds),
        "data-at": String(Date.now()), text: fmtSecs(s.uptime_seconds) }),
      el("td", { class: "opt", text: String(s.restarts) }),
      el("td", { class: "opt", text: last }),
      el("td", { class: "opt", text: s.next_run ? new Date(s.next_run).toLocaleString() : "-" }),
      actions,
    ]);
    tbody.appendChild(tr);
  }
  const counts = {};
  for (const s of state.services) counts[s.state] = (counts[s.state] || 0) + 1;
  const parts = Object.keys(counts).sort().map(k => counts[k] + " " + k);
  const sess = state.session;
  document.getElementById("summary").textContent =
    state.services.length + " services: " + (parts.join(", ") || "none") +
    (sess ? " · oneinit " + sess.version + " · up " + fmtSecs(sess.uptime_seconds) + " · role " + sess.role : "");
  const sel = document.getElementById("log-service");
  const current = sel.value;
  const names = state.services.map(s => s.name);
  if (sel.options.length !== names.length || names.some((n, i) => sel.options[i].value !== n)) {
    sel.replaceChildren(...names.map(n => el("option", { value: n, text: n })));
    if (names.includes(current)) sel.value = current;
    if (sel.value !== current) followLogs();
  }
}

// Dependency layers: a node sits one layer right of everything it waits for.
function renderGraph() {
  const g = state.graph;
  const stateOf = {};
  for (const s of state.services) stateOf[s.name] = s.state;
  const layer = {};
  const prereq = {};
  for (const n of g.nodes) { layer[n.name] = 0; prereq[n.name] = []; }
  for (const e of g.edges) if (prereq[e.from]) prereq[e.from].push(e.to);
  for (let i = 0; i < g.nodes.length; i++) {
    let changed = false;
    for (const n of g.nodes) for (const p of prereq[n.name]) {
      if (layer[p] !== undefined && layer[n.name] < layer[p] + 1 && layer[p] + 1 <= g.nodes.length) { layer[n.name] = layer[p] + 1; changed = true; }
    }
    if (!changed) break;
  }
  const cols = {};
  for (const n of g.nodes) (cols[layer[n.name]] = cols[layer[n.name]] || []).push(n.name);
  const W = 150, H = 34, GX = 60, GY = 16, pos = {};
  let maxRows = 0;
  for (const [c, names] of Object.entries(cols)) {
    names.sort().forEach((name, r) => { pos[name] = { x: 10 + c * (W + GX), y: 10 + r * (H + GY) }; });
    maxRows = Math.max(maxRows, names.length);
  }
  const ncols = Object.keys(cols).length;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  const width = 20 + ncols * (W + GX), height = 20 + maxRows * (H + GY);
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("role", "img"); svg.setAttribute("aria-label", "dependency graph");
  const colors = { ready: "#1e7d32", running: "#1565c0", starting: "#6a1b9a", waiting: "#8d6e00", failed: "#b71c1c",
    backoff: "#c75a00", completed: "#2e7d6b" };
  for (const e of g.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const line = document.createElementNS(NS, "line");
    line.setAttribute("x1", a.x); line.setAttribute("y1", a.y + H / 2);
    line.setAttribute("x2", b.x + W); line.setAttribute("y2", b.y + H / 2);
    line.setAttribute("stroke", "#888"); line.setAttribute("stroke-width", e.kind === "requires" ? 2 : 1);
    if (e.kind !== "requires") line.setAttribute("stroke-dasharray", e.kind === "wants" ? "6 3" : "2 3");
    const t = document.createElementNS(NS, "title"); t.textContent = e.from + " " + e.kind + " " + e.to;
    line.appendChild(t); svg.appendChild(line);
  }
  for (const n of g.nodes) {
    const p = pos[n.name]; const st = stateOf[n.name] || n.state;
    const gEl = document.createElementNS(NS, "g");
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", p.x); r.setAttribute("y", p.y); r.setAttribute("width", W); r.setAttribute("height", H);
    r.setAttribute("rx", 5); r.setAttribute("fill", colors[st] || "#5b5b66");
    const t = document.createElementNS(NS, "text");
    t.setAttribute("x", p.x + 8); t.setAttribute("y", p.y + 21); t.setAttribute("fill", "#fff");
    t.textContent = n.name + " · " + st;
    gEl.appendChild(r); gEl.appendChild(t); svg.appendChild(gEl);
  }
  document.getElementById("graph").replaceChildren(svg);
}

async function refresh() {
  try {
    const [list, graph] = await Promise.all([api("/v1/services"), api("/v1/graph")]);
    state.services = list.services || [];
    state.graph = graph || { nodes: [], edges: [] };
    renderServices();
    renderGraph();
    showError("");
  } catch (e) {
    showError(e.status === 401 || e.status === 403 ? "Not authorized: enter a token above. (" + e.message + ")" : "API: " + e.message);
  }
}

// Server-sent events through fetch (EventSource cannot send a token).
async function sse(path, signal, onData) {
  const res = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (!res.ok || !res.body) throw new Error(res.status + " " + res.statusText);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
      const data = chunk.split("\n").filter(l => l.startsWith("data:")).map(l => l.slice(5).trimStart()).join("\n");
      if (data) { try { onData(JSON.parse(data)); } catch (e) { /* keep-alive or partial */ } }
    }
  }
}

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 150);
}

async function watchEvents() {
  if (state.eventsAbort) state.eventsAbort.abort();
  const ctl = new AbortController(); state.eventsAbort = ctl;
  for (;;) {
    try { await sse("/v1/events", ctl.signal, scheduleRefresh); } catch (e) { if (ctl.signal.aborted) return; }
    if (ctl.signal.aborted) return;
    await new Promise(r => setTimeout(r, 2000));
    scheduleRefresh();
  }
}

function appendLog(line) {
  const pre = document.getElementById("logs");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const span = el("span", { class: line.stream, text: "[" + line.instance + "] " + line.line + "\n" });
  pre.appendChild(span);
  while (pre.childNodes.length > 2000) pre.removeChild(pre.firstChild);
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

async function followLogs() {
  if (state.logAbort) state.logAbort.abort();
  const name = document.getElementById("log-service").value;
  const stream = document.getElementById("log-stream").value;
  const pre = document.getElementById("logs");
  pre.replaceChildren();
  if (!name) return;
  const ctl = new AbortController(); state.logAbort = ctl;
  const q = "?follow=true&tail=200" + (stream ? "&stream=" + stream : "");
  try { await sse("/v1/services/" + encodeURIComponent(name) + "/logs" + q, ctl.signal, appendLog); }
  catch (e) { if (!ctl.signal.aborted) showError("logs of " + name + ": " + e.message); }
}

async function loadSession() {
  try { state.session = await api("/ui/session"); }
  catch (e) { state.session = null; }
}

async function start() {
  document.getElementById("token").value = token();
  document.getElementById("tokenform").addEventListener("submit", async ev => {
    ev.preventDefault();
    sessionStorage.setItem("oneinit-token", document.getElementById("token").value.trim());
    await loadSession(); await refresh(); watchEvents(); followLogs();
  });
  document.getElementById("log-service").addEventListener("change", followLogs);
  document.getElementById("log-stream").addEventListener("change", followLogs);
  await loadSession();
  await refresh();
  watchEvents();
  followLogs();
  // Uptimes advance locally between updates; the table itself is only
  // rebuilt when the supervisor reports a change.
  setInterval(() => {
    for (const td of document.querySelectorAll("td.uptime")) {
      const base = td.getAttribute("data-base");
      if (base) td.textContent = fmtSecs(Number(base) + (Date.now() - Number(td.getAttribute("data-at"))) / 1000);
    }
  }, 1000);
}

document.addEventListener("DOMContentLoaded", start);
