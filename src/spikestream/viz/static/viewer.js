// spikestream live viewer: listens to /events (server-sent events) and draws each update.
"use strict";
const COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442",
                "#000000", "#999999", "#882255", "#117733", "#332288"];  // Okabe-Ito, then more
const HISTORY = 150;
const history = [];  // one entry per update: scores
let classes = [];

function $(id) { return document.getElementById(id); }

function bars(scores, decision) {
  const box = $("bars");
  if (box.children.length !== scores.length) {
    box.innerHTML = "";
    scores.forEach((_, k) => {
      const row = document.createElement("div");
      row.className = "bar";
      row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
      row.querySelector(".fill").style.background = COLORS[k % COLORS.length];
      row.querySelector(".name").textContent = classes[k] ?? String(k);
      box.appendChild(row);
    });
  }
  // rates in [0, 1] as they are; anything else (log-probabilities, logits) against its range
  const finite = scores.filter((s) => s !== null);
  const inUnit = finite.every((s) => s >= 0 && s <= 1);
  const lo = inUnit ? 0 : Math.min(...finite), hi = inUnit ? 1 : Math.max(...finite);
  scores.forEach((s, k) => {
    const row = box.children[k];
    const share = s === null ? 0 : (s - lo) / (hi - lo || 1);
    row.querySelector(".fill").style.width = (100 * share).toFixed(1) + "%";
    row.querySelector(".value").textContent = s === null ? "–" : s.toFixed(3);
    row.classList.toggle("chosen", classes[k] === decision);
  });
}

function chart() {
  const canvas = $("history"), ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 30;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  if (history.length === 0) return;
  let lo = Infinity, hi = -Infinity;
  for (const scores of history) for (const s of scores) if (s !== null) { lo = Math.min(lo, s); hi = Math.max(hi, s); }
  if (!isFinite(lo)) return;
  if (hi - lo < 1e-9) { hi = lo + 1; }
  ctx.strokeStyle = "#ccc";
  ctx.strokeRect(pad, 5, w - pad - 5, h - pad);
  ctx.fillStyle = "#666";
  ctx.font = "10px sans-serif";
  ctx.fillText(hi.toFixed(2), 2, 12);
  ctx.fillText(lo.toFixed(2), 2, h - pad);
  const x = (i) => pad + (w - pad - 5) * i / Math.max(1, HISTORY - 1);
  const y = (s) => 5 + (h - pad - 5) * (1 - (s - lo) / (hi - lo));
  const n = history[0].length;
  for (let k = 0; k < n; k++) {
    ctx.strokeStyle = COLORS[k % COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach((scores, i) => {
      const s = scores[k];
      if (s === null) return;
      if (i === 0) ctx.moveTo(x(i), y(s)); else ctx.lineTo(x(i), y(s));
    });
    ctx.stroke();
  }
}

function update(m) {
  classes = m.classes;
  if (m.image) $("frame").src = m.image;
  const d = $("decision");
  d.textContent = m.decision ?? "none";
  d.classList.toggle("none", m.decision === null);
  $("confidence").textContent = "confidence " + m.confidence.toFixed(3);
  $("latency").textContent = m.latency_ms.toFixed(1) + " ms";
  $("bins").textContent = m.bins.toLocaleString();
  $("events").textContent = m.events.toLocaleString();
  $("dropped").textContent = m.dropped_events.toLocaleString();
  if (m.t_start_us !== null)
    $("bin").textContent = "bin " + m.index + ": " + (m.t_start_us / 1000).toFixed(1) + "–" + (m.t_end_us / 1000).toFixed(1) + " ms";
  bars(m.scores, m.decision);
  history.push(m.scores);
  if (history.length > HISTORY) history.shift();
  chart();
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

const source = new EventSource("/events");
source.onopen = () => { $("status").textContent = "live"; $("status").className = "status on"; };
source.onerror = () => { $("status").textContent = "disconnected"; $("status").className = "status off"; };
source.onmessage = (e) => update(JSON.parse(e.data));
