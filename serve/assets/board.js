// Boards drawn on a canvas: Go (grid, hoshi, stones, last move, candidates, a policy heatmap or
// ownership map) and Connect Four. The board's state comes from the server as a string of
// cells, top row first: '.' empty, 'X' first player (Black), 'O' second (White).
"use strict";

const Board = (() => {
  const COLS = "ABCDEFGHJKLMNOPQRST";

  function hoshi(n) {
    if (n < 7) return n % 2 ? [[(n - 1) / 2, (n - 1) / 2]] : [];
    const e = n >= 13 ? 3 : 2, m = (n - 1) / 2, pts = [];
    for (const x of [e, n - 1 - e]) for (const y of [e, n - 1 - e]) pts.push([x, y]);
    if (n % 2 && n >= 9) pts.push([m, m]);
    if (n % 2 && n >= 15) pts.push([m, e], [m, n - 1 - e], [e, m], [n - 1 - e, m]);
    return pts;
  }

  function setup(canvas, w, h) {
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  // opts: {size, cells, last (action or null), overlay: null|{kind:'policy'|'ownership', values},
  //        candidates: [{action, name, visits, winrate}] }
  function drawGo(canvas, opts) {
    const n = opts.size, px = Math.max(240, Math.min(560, n * 32));
    const ctx = setup(canvas, px, px);
    const m = px / (n + 1), at = (i) => m + i * m;
    ctx.clearRect(0, 0, px, px);
    ctx.fillStyle = "#dcb35c";
    ctx.fillRect(0, 0, px, px);
    const ov = opts.overlay;
    if (ov && ov.kind === "ownership" && ov.values) {
      for (let i = 0; i < n * n; i++) {
        const v = ov.values[i] || 0, x = i % n, y = Math.floor(i / n);
        ctx.fillStyle = v > 0 ? `rgba(0,0,0,${0.55 * Math.min(1, v)})` : `rgba(255,255,255,${0.7 * Math.min(1, -v)})`;
        ctx.fillRect(at(x) - m / 2, at(y) - m / 2, m, m);
      }
    }
    ctx.strokeStyle = "#3b2a10";
    ctx.lineWidth = 1;
    for (let i = 0; i < n; i++) {
      ctx.beginPath(); ctx.moveTo(at(0), at(i)); ctx.lineTo(at(n - 1), at(i)); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(at(i), at(0)); ctx.lineTo(at(i), at(n - 1)); ctx.stroke();
    }
    ctx.fillStyle = "#3b2a10";
    for (const [x, y] of hoshi(n)) { ctx.beginPath(); ctx.arc(at(x), at(y), Math.max(2, m * 0.09), 0, 7); ctx.fill(); }
    ctx.font = `${Math.max(9, m * 0.32)}px sans-serif`;
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    for (let i = 0; i < n; i++) {
      ctx.fillText(COLS[i], at(i), m * 0.4);
      ctx.fillText(String(n - i), m * 0.4, at(i));
    }
    if (ov && ov.kind === "policy" && ov.values) {
      const max = Math.max(1e-9, ...ov.values);
      for (let i = 0; i < n * n; i++) {
        const v = (ov.values[i] || 0) / max;
        if (v <= 0.02 || opts.cells[i] !== ".") continue;
        ctx.fillStyle = `rgba(220,40,40,${0.15 + 0.6 * v})`;
        ctx.beginPath(); ctx.arc(at(i % n), at(Math.floor(i / n)), m * 0.42 * Math.sqrt(v), 0, 7); ctx.fill();
      }
    }
    for (let i = 0; i < n * n; i++) {
      const c = opts.cells[i];
      if (c === ".") continue;
      const x = at(i % n), y = at(Math.floor(i / n));
      const g = ctx.createRadialGradient(x - m * 0.15, y - m * 0.15, m * 0.05, x, y, m * 0.48);
      if (c === "X") { g.addColorStop(0, "#555"); g.addColorStop(1, "#000"); }
      else { g.addColorStop(0, "#fff"); g.addColorStop(1, "#ccc"); }
      ctx.fillStyle = g;
      ctx.beginPath(); ctx.arc(x, y, m * 0.47, 0, 7); ctx.fill();
      ctx.strokeStyle = "#0006"; ctx.stroke();
    }
    if (opts.last != null && opts.last < n * n) {
      const i = opts.last, c = opts.cells[i];
      ctx.strokeStyle = c === "X" ? "#fff" : "#000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(at(i % n), at(Math.floor(i / n)), m * 0.22, 0, 7); ctx.stroke();
      ctx.lineWidth = 1;
    }
    if (opts.candidates) {
      ctx.font = `bold ${Math.max(9, m * 0.3)}px sans-serif`;
      opts.candidates.slice(0, 5).forEach((c, k) => {
        if (c.action >= n * n || opts.cells[c.action] !== ".") return;
        const x = at(c.action % n), y = at(Math.floor(c.action / n));
        ctx.fillStyle = k === 0 ? "#2e86de" : "#16a085cc";
        ctx.beginPath(); ctx.arc(x, y, m * 0.4, 0, 7); ctx.fill();
        ctx.fillStyle = "#fff";
        ctx.fillText(Math.round(c.winrate), x, y);
      });
    }
  }

  // opts: {rows, cols, cells, last (column or null)}
  function drawC4(canvas, opts) {
    const { rows, cols } = opts, cell = 56;
    const ctx = setup(canvas, cols * cell, rows * cell + 20);
    ctx.fillStyle = "#1f4e9c";
    ctx.fillRect(0, 0, cols * cell, rows * cell + 20);
    let lastRow = -1;
    if (opts.last != null) {
      for (let r = 0; r < rows; r++) if (opts.cells[r * cols + opts.last] !== ".") { lastRow = r; break; }
    }
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      const v = opts.cells[r * cols + c];
      ctx.fillStyle = v === "X" ? "#e74c3c" : v === "O" ? "#f1c40f" : "#fafaf7";
      ctx.beginPath(); ctx.arc(c * cell + cell / 2, r * cell + cell / 2, cell * 0.4, 0, 7); ctx.fill();
      if (r === lastRow && c === opts.last) {
        ctx.strokeStyle = "#fff"; ctx.lineWidth = 3; ctx.stroke(); ctx.lineWidth = 1;
      }
    }
    ctx.fillStyle = "#fff"; ctx.font = "12px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    for (let c = 0; c < cols; c++) ctx.fillText(String(c + 1), c * cell + cell / 2, rows * cell + 10);
  }

  // How many stones / discs a cell string holds.
  function count(cells) { let k = 0; for (const c of cells) if (c !== ".") k++; return k; }

  return { drawGo, drawC4, count, COLS };
})();
