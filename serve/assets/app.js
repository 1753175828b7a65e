// The Ember page: runs (learning curves, live), matches (Go and Connect Four, live, with the
// players' analysis) and episodes (an agent in an environment). Plain JavaScript, no build
// step; charts by uPlot; boards by board.js. Routes are the URL's hash: #/runs, #/runs/ID,
// #/matches, #/matches/ID, #/episodes, #/episodes/ID.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
let current = { close() {} }; // the view's live streams and charts, closed on navigation
// What the page shows, for tests and the console: charts by title, the match and episode views.
window.__ember = { charts: {}, match: null, episode: null };

function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

async function api(path, opts = {}) {
  const res = await fetch(withToken(path), opts);
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { error: text }; }
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function stream(path, handlers) {
  const es = new EventSource(withToken(path));
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  // The server ends a stream after its last event; do not reconnect then.
  es.onerror = () => { if (es.readyState !== EventSource.OPEN) es.close(); };
  return es;
}

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function badge(status) { return h("span", { class: "badge " + status, "data-status": status }, status); }
function fmt(x, d = 3) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  return Math.abs(x) >= 1000 || Number.isInteger(x) ? String(Math.round(x * 100) / 100) : x.toFixed(d);
}
function showError(where, e) { where.append(h("p", { class: "error" }, String(e.message || e))); }

// A line chart (uPlot) of one or more series over x; returns {chart, set(data)}.
function lineChart(parent, title, seriesNames, opts = {}) {
  const width = opts.width || 440, height = opts.height || 220;
  const colors = ["#2e86de", "#c0392b", "#27ae60", "#8e44ad"];
  const box = h("div", { class: "chart", "data-title": title });
  parent.append(box);
  const u = new uPlot({
    title, width, height,
    scales: { x: { time: false }, ...(opts.y ? { y: opts.y } : {}) },
    series: [{ label: opts.xLabel || "step" },
      ...seriesNames.map((s, i) => ({ label: s, stroke: colors[i % colors.length], width: 1.5, points: { show: false } }))],
    // Three significant digits on the value axis (uPlot's default rounds small values to 0).
    axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => (v === null ? "" : String(+v.toPrecision(3)))) }],
  }, [[], ...seriesNames.map(() => [])], box);
  window.__ember.charts[title] = u;
  return { chart: u, set: (data) => u.setData(data) };
}

// A "Stop" button for a running match or episode (hidden once it has ended).
function stopButton(kind, id, status) {
  const b = h("button", { id: "stop", title: "stop it at its next move or step", onclick: async () => {
    b.disabled = true;
    try { await api(`/api/${kind}/${encodeURIComponent(id)}/stop`, { method: "POST" }); } catch (e) { b.disabled = false; }
  } }, "Stop");
  if (status !== "running") b.style.display = "none";
  return b;
}

// --- runs --------------------------------------------------------------------------------------

async function viewRuns(root) {
  root.append(h("h2", {}, "Runs"));
  let data;
  try { data = await api("/api/runs"); } catch (e) { return showError(root, e); }
  if (data.root === null) {
    root.append(h("p", { id: "no-runs-dir" }, "This server was started by ", h("code", {}, "ember match … --serve"),
      ": it shows that match (", h("a", { href: "#/matches/attached" }, "follow it"), ") and has no runs directory."));
    return;
  }
  root.append(h("p", { class: "muted" }, "under ", data.root));
  if (!data.runs.length) { root.append(h("p", {}, "No runs yet: ", h("code", {}, "ember train experiments/ppo_cartpole.toml --run-dir " + data.root + "/NAME"))); return; }
  const rows = data.runs.map((r) => {
    const s = r.summary || {};
    const score = s.eval_mean_return ?? s.test_accuracy ?? (s.eval_score ? JSON.stringify(s.eval_score) : null);
    return h("tr", { class: "clickable run-row", "data-id": r.id, onclick: () => { location.hash = "#/runs/" + encodeURIComponent(r.id); } },
      h("td", {}, r.id), h("td", {}, r.kind ?? "–"), h("td", {}, r.env ?? r.game ?? "–"), h("td", {}, badge(r.status)),
      h("td", {}, new Date(r.modified * 1000).toLocaleString()), h("td", {}, fmt(score)));
  });
  root.append(h("table", { id: "runs-table" },
    h("tr", {}, ...["run", "kind", "env / game", "status", "last write", "result"].map((t) => h("th", {}, t))), rows));
}

const PREFERRED_TAGS = ["eval/mean_return", "charts/episodic_return", "test/accuracy", "train/loss",
  "losses/policy", "losses/value", "eval/score_vs_random"];

async function viewRun(root, id) {
  let run;
  try { run = await api("/api/runs/" + encodeURIComponent(id)); } catch (e) { return showError(root, e); }
  const status = h("span", { id: "run-status" }, badge(run.status));
  root.append(h("h2", {}, run.id, " ", status));
  root.append(h("p", { class: "muted" }, `${run.kind ?? ""} · ${run.env ?? run.game ?? ""} · seed ${run.seed ?? "–"}`));
  const charts = h("div", { class: "charts", id: "charts" });
  root.append(h("h3", {}, "Learning curves"), charts);
  const summaryPre = h("pre", { id: "summary" }, run.summary ? JSON.stringify(run.summary, null, 2) : "no summary.json yet");
  root.append(h("div", { class: "row" },
    h("div", {}, h("h3", {}, "Summary"), summaryPre),
    h("div", {}, h("h3", {}, "config.toml"), h("pre", {}, run.config_toml))));
  const made = {}, data = {};
  const draw = (tags, replace) => {
    if (replace) for (const k of Object.keys(data)) delete data[k];
    for (const [tag, pts] of Object.entries(tags)) data[tag] = (data[tag] || []).concat(pts);
    tags = data;
    const names = Object.keys(tags).sort((a, b) => {
      const ia = PREFERRED_TAGS.indexOf(a), ib = PREFERRED_TAGS.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    if (!names.length && !charts.childElementCount) charts.append(h("p", { class: "muted", id: "no-curves" }, "no scalars logged yet"));
    for (const tag of names) {
      const pts = tags[tag];
      if (!made[tag]) {
        const none = document.getElementById("no-curves"); if (none) none.remove();
        made[tag] = lineChart(charts, tag, [tag]);
      }
      made[tag].set([pts.map((p) => p[0]), pts.map((p) => p[1])]);
    }
  };
  const es = stream("/api/runs/" + encodeURIComponent(id) + "/events", {
    status: (s) => {
      status.replaceChildren(badge(s.status));
      if (s.summary) summaryPre.textContent = JSON.stringify(s.summary, null, 2);
    },
    scalars: (d) => draw(d.tags, d.replace),
    failed: (d) => showError(root, new Error(d.error)),
  });
  current = { close() { es.close(); } };
}

// --- matches -----------------------------------------------------------------------------------

async function viewMatches(root) {
  root.append(h("h2", {}, "Matches"));
  const err = h("div");
  const f = h("form", { class: "inline", id: "match-form" },
    h("label", {}, "game", h("select", { name: "game" }, h("option", { value: "go" }, "Go"), h("option", { value: "connect_four" }, "Connect Four"))),
    h("label", { class: "go-only" }, "size", h("input", { name: "size", type: "number", min: 5, max: 19, value: 9, class: "num" })),
    h("label", { class: "go-only" }, "komi", h("input", { name: "komi", type: "number", step: 0.5, value: 7.5, class: "num" })),
    h("label", {}, "first player (Black)", h("input", { name: "p1", value: "random", class: "spec" })),
    h("label", {}, "second player (White)", h("input", { name: "p2", value: "uct:200", class: "spec" })),
    h("label", {}, "seed", h("input", { name: "seed", type: "number", min: 0, value: 0, class: "num" })),
    h("label", {}, "delay ms", h("input", { name: "delay", type: "number", min: 0, max: 5000, value: 150, class: "num" })),
    h("button", { type: "submit", id: "start-match" }, "Start match"));
  const game = f.elements.game;
  game.addEventListener("change", () => {
    for (const el of f.querySelectorAll(".go-only")) el.style.display = game.value === "go" ? "" : "none";
  });
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    const e = f.elements;
    const body = { game: e.game.value, players: [e.p1.value, e.p2.value], seed: Number(e.seed.value), delay_ms: Number(e.delay.value) };
    if (e.game.value === "go") { body.size = Number(e.size.value); body.komi = Number(e.komi.value); }
    try {
      const m = await api("/api/matches", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      location.hash = "#/matches/" + m.id;
    } catch (x) { showError(err, x); }
  });
  root.append(f, err, h("p", { class: "muted" },
    "Players: random, uct:SIMS, az:RUN[:SIMS] (an AlphaZero run under --runs), gtp:\"COMMAND\" (Go; only with --allow-engines)."));
  let list;
  try { list = await api("/api/matches"); } catch (e) { return showError(root, e); }
  if (list.matches.length) {
    root.append(h("h3", {}, "Kept matches"), h("table", {},
      h("tr", {}, ...["id", "game", "players", "status", "result"].map((t) => h("th", {}, t))),
      list.matches.map((m) => h("tr", { class: "clickable", onclick: () => { location.hash = "#/matches/" + m.id; } },
        h("td", {}, m.id), h("td", {}, (m.game === "go" ? `Go ${m.size}x${m.size}` : "Connect Four") + (m.attached ? ` · ember match game ${m.attached.game}/${m.attached.games}` : "")),
        h("td", {}, m.players.join(" vs ")), h("td", {}, badge(m.status)), h("td", {}, m.end ? m.end.result : "")))));
  }
}

async function viewMatch(root, id) {
  let m;
  try { m = await api("/api/matches/" + encodeURIComponent(id)); } catch (e) { return showError(root, e); }
  const isGo = m.game === "go";
  const att = m.attached || null; // a game that `ember match --serve` plays: {game, games}
  // An attached game is stopped in its terminal, not from the page.
  const stopBtn = att ? h("span") : stopButton("matches", id, m.status);
  root.append(h("h2", {}, isGo ? `Go ${m.size}x${m.size}` : "Connect Four", ": ", m.players[0], " vs ", m.players[1], " ", h("span", { id: "match-status" }, badge(m.status)), " ", stopBtn));
  const nextBox = h("span", { id: "next-game" });
  if (att) root.append(h("p", { class: "muted", id: "attached" }, `game ${att.game} of ${att.games}, played by `, h("code", {}, "ember match --serve"), " ", nextBox));
  const canvas = h("canvas", { class: isGo ? "board" : "c4", id: "board" });
  const slider = h("input", { type: "range", min: 0, max: 0, value: 0, id: "move-slider" });
  const moveLabel = h("span", { id: "move-label" });
  const btn = (label, title, fn) => h("button", { title, onclick: fn }, label);
  const controls = h("div", { class: "controls" },
    btn("|<", "first", () => go(0)), btn("<", "back", () => go(cursor - 1)),
    slider, btn(">", "forward", () => go(cursor + 1)), btn(">|", "last (follow live)", () => go(moves.length)), moveLabel);
  const overlaySel = h("select", { id: "overlay" }, h("option", { value: "none" }, "no overlay"),
    h("option", { value: "policy" }, "policy (priors)"), h("option", { value: "visits" }, "visits"), h("option", { value: "ownership" }, "ownership"));
  const info = h("div", { class: "kv", id: "match-info" });
  const result = h("div", { class: "result", id: "result" });
  const sgf = h("div", { id: "sgf" });
  const cands = h("div", { id: "candidates" });
  const charts = h("div", { class: "charts" });
  const left = h("div", {}, canvas, controls, isGo ? h("label", {}, "overlay ", overlaySel) : null);
  const right = h("div", { class: "panel" }, info, result, sgf, h("h3", {}, "Top candidates"), cands);
  root.append(h("div", { class: "row" }, left, right), h("h3", {}, "Win rate of the first player (%)"), charts);
  const wr = lineChart(charts, "first player's win rate", ["win rate %"], { xLabel: "move", y: { range: [0, 100] }, width: 560, height: 200 });

  let start = null, moves = [], end = null, cursor = 0, follow = true;
  window.__ember.match = { get start() { return start; }, get moves() { return moves; }, get end() { return end; }, get cursor() { return cursor; } };
  function go(k) {
    cursor = Math.max(0, Math.min(moves.length, k));
    follow = cursor === moves.length;
    render();
  }
  slider.addEventListener("input", () => go(Number(slider.value)));
  overlaySel.addEventListener("change", render);

  function render() {
    if (!start) return;
    const mv = cursor > 0 ? moves[cursor - 1] : null;
    const board = mv ? mv.board : start.board;
    // The analysis shown with a position is that of the move about to be played from it.
    const next = moves[cursor] || null;
    const an = next ? next.analysis : null;
    slider.max = moves.length; slider.value = cursor;
    moveLabel.textContent = `move ${cursor} / ${moves.length}`;
    if (isGo) {
      const n = m.size;
      let overlay = null;
      const kind = overlaySel.value;
      if (an && (kind === "policy" || kind === "visits")) {
        const vals = new Array(n * n).fill(0);
        for (const c of an.candidates) if (c.action < n * n) vals[c.action] = kind === "policy" ? c.prior : c.visits;
        overlay = { kind: "policy", values: vals };
      } else if (kind === "ownership") {
        const own = (an && an.ownership) || (mv && mv.analysis && mv.analysis.ownership);
        if (own) overlay = { kind: "ownership", values: own };
      }
      Board.drawGo(canvas, { size: n, cells: board.cells, last: mv ? mv.action : null, overlay, candidates: an && kind !== "none" ? null : an ? an.candidates : null });
    } else {
      Board.drawC4(canvas, { rows: board.rows, cols: board.cols, cells: board.cells, last: mv ? mv.action : null });
    }
    const toPlay = cursor === moves.length && end ? null : (mv ? mv.to_play : start.to_play);
    const who = (s) => (s === null || s === undefined) ? "–" : `${isGo ? (s === 0 ? "Black" : "White") : "player " + (s + 1)} (${m.players[s]})`;
    const rows = [["to play", who(toPlay)], ["moves", String(cursor)]];
    if (mv && mv.name) rows.push(["last move", mv.name]);
    if (isGo) rows.push(["captures", `B ${board.captures[0]} · W ${board.captures[1]}`], ["komi", String(m.komi)]);
    info.replaceChildren(...rows.flatMap(([k, v]) => [h("span", { class: "muted" }, k), h("span", {}, v)]));
    if (an && an.candidates.length) {
      cands.replaceChildren(h("p", { class: "muted" }, `value ${fmt(an.value, 2)} for the player to move, ${an.visits} visits`),
        h("table", { id: "cand-table" }, h("tr", {}, ...["move", "visits", "win %", "prior", "pv"].map((t) => h("th", {}, t))),
          an.candidates.slice(0, 8).map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.visits), h("td", {}, fmt(c.winrate, 1)),
            h("td", {}, fmt(c.prior, 3)), h("td", {}, c.pv.slice(0, 6).join(" "))))));
    } else {
      cands.replaceChildren(h("p", { class: "muted" }, "no analysis for this move (the player does not search)"));
    }
  }

  function addMove(d) {
    moves.push(d);
    if (follow) cursor = moves.length;
    const xs = [], ys = [];
    moves.forEach((mv, i) => { if (mv.analysis) { xs.push(i + 1); ys.push(mv.analysis.first_winrate); } });
    wr.set([xs, ys]);
  }
  let pending = null;
  const schedule = () => { if (!pending) pending = requestAnimationFrame(() => { pending = null; render(); }); };
  const es = stream("/api/matches/" + encodeURIComponent(id) + "/events", {
    start: (d) => { start = d; schedule(); },
    move: (d) => { addMove(d); schedule(); },
    end: (d) => {
      end = d;
      result.textContent = `Result: ${d.result}` + (isGo ? ` (area score B−W−komi ${fmt(d.score, 1)}; ${d.reason})` : ` (${d.reason})`);
      document.getElementById("match-status").replaceChildren(badge("finished"));
      stopBtn.remove();
      if (d.has_record) sgf.replaceChildren(h("a", { href: withToken(`/api/matches/${id}/sgf`), download: `ember-match-${id}.sgf`, id: "sgf-link" }, "Download SGF"));
      es.close(); schedule();
      if (att && att.game < att.games) waitNext();
    },
    failed: (d) => { document.getElementById("match-status").replaceChildren(badge("failed")); stopBtn.remove(); showError(result, new Error(d.error)); es.close(); },
  });
  // The next game of an attached match: a link once it starts; a viewer still following live
  // is taken there after a moment (one who stepped back stays).
  let timer = null, closed = false;
  const watchedLive = m.status === "running";
  async function waitNext() {
    nextBox.replaceChildren("· the next game is starting…");
    while (!closed) {
      let j = null;
      try { j = await api("/api/matches/" + encodeURIComponent(id)); } catch (e) { return showError(nextBox, e); }
      if (j.next !== undefined) {
        nextBox.replaceChildren("· ", h("a", { href: "#/matches/" + j.next, id: "next-link" }, `next game (${att.game + 1} of ${att.games}) →`));
        if (follow && watchedLive) timer = setTimeout(() => { if (follow && !closed) location.hash = "#/matches/" + j.next; }, 2000);
        return;
      }
      await new Promise((r) => { timer = setTimeout(r, 500); });
    }
  }
  document.addEventListener("keydown", keys);
  function keys(e) {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowLeft") go(cursor - 1);
    if (e.key === "ArrowRight") go(cursor + 1);
  }
  current = { close() { closed = true; clearTimeout(timer); es.close(); document.removeEventListener("keydown", keys); } };
}

// #/matches/attached: the newest game of the match `ember match --serve` plays (its printed URL).
async function viewAttached(root) {
  const note = h("p", { class: "muted", id: "attached-wait" }, "waiting for the match's first game…");
  root.append(h("h2", {}, "Matches"), note);
  let closed = false, timer = null;
  current = { close() { closed = true; clearTimeout(timer); } };
  for (let tries = 0; !closed && tries < 600; tries++) {
    let list;
    try { list = await api("/api/matches"); } catch (e) { return showError(root, e); }
    const m = list.matches.find((x) => x.attached);
    if (m) { if (!closed) location.replace("#/matches/" + m.id); return; }
    await new Promise((r) => { timer = setTimeout(r, 300); });
  }
  if (!closed) note.textContent = "no match is being played by ember match --serve on this server";
}

// --- episodes ----------------------------------------------------------------------------------

async function viewEpisodes(root) {
  root.append(h("h2", {}, "Episodes"));
  const err = h("div");
  let envs = [], runs = [];
  try { envs = (await api("/api/envs")).envs; runs = (await api("/api/runs")).runs; } catch (e) { return showError(root, e); }
  const agents = runs.filter((r) => r.kind === "dqn" || r.kind === "ppo");
  const envSel = h("select", { name: "env" }, envs.filter((e) => !e.id.startsWith("Go")).map((e) => h("option", { value: e.id, title: e.description }, e.id)));
  const agentSel = h("select", { name: "agent" }, h("option", { value: "random" }, "random"),
    agents.map((r) => h("option", { value: r.id }, `${r.id} (${r.kind}, ${r.env})`)));
  agentSel.addEventListener("change", () => {
    const r = agents.find((a) => a.id === agentSel.value);
    if (r && r.env) envSel.value = r.env;
  });
  const f = h("form", { class: "inline", id: "episode-form" },
    h("label", {}, "environment", envSel), h("label", {}, "agent", agentSel),
    h("label", {}, "seed", h("input", { name: "seed", type: "number", min: 0, value: 0, class: "num" })),
    h("label", {}, "max steps", h("input", { name: "max_steps", type: "number", min: 1, max: 10000, value: 500, class: "num" })),
    h("label", {}, "delay ms", h("input", { name: "delay", type: "number", min: 0, max: 2000, value: 60, class: "num" })),
    h("button", { type: "submit", id: "start-episode" }, "Watch"));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    const e = f.elements;
    const body = { env: e.env.value, agent: e.agent.value, seed: Number(e.seed.value), max_steps: Number(e.max_steps.value), delay_ms: Number(e.delay.value) };
    try {
      const ep = await api("/api/episodes", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      location.hash = "#/episodes/" + ep.id;
    } catch (x) { showError(err, x); }
  });
  root.append(f, err);
}

function drawFrame(canvas, frame, scale) {
  const bytes = Uint8Array.from(atob(frame.rgb), (c) => c.charCodeAt(0));
  const img = new ImageData(frame.width, frame.height);
  for (let i = 0, j = 0; i < bytes.length; i += 3, j += 4) {
    img.data[j] = bytes[i]; img.data[j + 1] = bytes[i + 1]; img.data[j + 2] = bytes[i + 2]; img.data[j + 3] = 255;
  }
  const off = document.createElement("canvas");
  off.width = frame.width; off.height = frame.height;
  off.getContext("2d").putImageData(img, 0, 0);
  canvas.width = frame.width * scale; canvas.height = frame.height * scale;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

async function viewEpisode(root, id) {
  let ep;
  try { ep = await api("/api/episodes/" + encodeURIComponent(id)); } catch (e) { return showError(root, e); }
  const stopBtn = stopButton("episodes", id, ep.status);
  root.append(h("h2", {}, ep.env, " · ", ep.agent, " ", h("span", { id: "episode-status" }, badge(ep.status)), " ", stopBtn));
  const canvas = h("canvas", { class: "frame", id: "frame" });
  const legend = h("div", { class: "legend", id: "legend" });
  const stats = h("div", { class: "kv", id: "episode-info" });
  const bars = h("div", { class: "bars", id: "outputs" });
  const result = h("div", { class: "result", id: "episode-result" });
  const charts = h("div", { class: "charts" });
  root.append(h("div", { class: "row" }, h("div", {}, canvas, legend),
    h("div", { class: "panel" }, stats, result, h("h3", { id: "outputs-title" }, "Agent's output"), bars)), charts);
  const ret = lineChart(charts, "return so far", ["return"], { width: 520, height: 200 });
  const xs = [], ys = [];
  let scale = 8, last = null, pending = null, done = null;
  window.__ember.episode = { get last() { return last; }, get end() { return done; }, returns: ys };
  const render = () => {
    pending = null;
    if (!last) return;
    drawFrame(canvas, last.frame, scale);
    const rows = [["step", String(last.t ?? 0)], ["return", fmt(last.return ?? 0, 2)]];
    if (last.action !== undefined) rows.push(["action", String(last.action)], ["reward", fmt(last.reward, 2)]);
    stats.replaceChildren(...rows.flatMap(([k, v]) => [h("span", { class: "muted" }, k), h("span", {}, v)]));
    const o = last.outputs;
    if (o) {
      document.getElementById("outputs-title").textContent = o.kind === "q_values" ? "Q-values" : "Action probabilities";
      const lo = Math.min(0, ...o.values), hi = Math.max(1e-9, ...o.values);
      bars.replaceChildren(...o.values.map((v, i) => h("div", { class: "bar" + (i === last.action ? " chosen" : "") },
        h("span", {}, "action\u00a0" + i), h("div", { class: "b", style: `width:${Math.max(1, 100 * (v - lo) / (hi - lo || 1))}%` }), h("span", {}, fmt(v, 3)))));
    } else {
      bars.replaceChildren(h("p", { class: "muted" }, "the random agent has no network output"));
    }
    ret.set([xs, ys]);
  };
  const schedule = () => { if (!pending) pending = requestAnimationFrame(render); };
  const es = stream("/api/episodes/" + encodeURIComponent(id) + "/events", {
    start: (d) => {
      scale = Math.max(2, Math.floor(360 / Math.max(d.frame.width, d.frame.height)));
      legend.replaceChildren(...d.legend.map((l) => h("span", { class: "legend-entry" },
        h("span", { class: "sw", style: `background: rgb(${l.rgb.join(",")})` }), l.name)));
      last = { frame: d.frame, t: 0, return: 0 }; schedule();
    },
    step: (d) => { xs.push(d.t); ys.push(d.return); last = d; schedule(); },
    end: (d) => {
      done = d;
      result.textContent = `Episode ${d.end} after ${d.steps} steps, return ${fmt(d.return, 2)}`;
      document.getElementById("episode-status").replaceChildren(badge("finished"));
      stopBtn.remove();
      es.close(); schedule();
    },
    failed: (d) => { document.getElementById("episode-status").replaceChildren(badge("failed")); stopBtn.remove(); showError(result, new Error(d.error)); es.close(); },
  });
  current = { close() { es.close(); } };
}

// --- routing -----------------------------------------------------------------------------------

function route() {
  current.close();
  current = { close() {} };
  window.__ember = { charts: {}, match: null, episode: null };
  const root = document.getElementById("view");
  root.replaceChildren();
  const parts = (location.hash.replace(/^#\/?/, "") || "runs").split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.id === "nav-" + parts[0]);
  const [page, id] = parts;
  if (page === "matches") return id === "attached" ? viewAttached(root) : id ? viewMatch(root, id) : viewMatches(root);
  if (page === "episodes") return id ? viewEpisode(root, id) : viewEpisodes(root);
  return id ? viewRun(root, id) : viewRuns(root);
}
window.addEventListener("hashchange", route);
route();
