// `ember serve` in a real browser: Debian's headless Chromium driven by playwright-core.
//
// Trains a short PPO run on Breakout (a few thousand steps), starts `ember serve --runs` on a
// free port, and checks the page: the runs page draws a curve from the run's event files; a
// random-vs-random 9x9 Go match shows stones and its result; a Connect Four match plays to its
// end; the trained agent plays a Breakout episode with its action probabilities; the page that
// `ember match go … --serve` prints shows its games live, one after the other. Every page must
// finish without console errors. Screenshots go to $EMBER_ARTIFACTS (default
// tests/browser/artifacts, git-ignored).
//
//   EMBER_BIN=path/to/ember node --test tests/browser/serve.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { repo, EMBER, ART, printedUrl } from "./common.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

let runs, server, url, browser, profile;

before(async () => {
  assert.ok(existsSync(EMBER), `no ember binary at ${EMBER} (set EMBER_BIN)`);
  mkdirSync(ART, { recursive: true });
  runs = mkdtempSync(path.join(tmpdir(), "ember-serve-runs-"));
  // A real short run: PPO on Breakout, 2048 steps, checkpointed and evaluated.
  execFileSync(EMBER, ["train", path.join(repo, "experiments/ppo_breakout.toml"),
    "--run-dir", path.join(runs, "ppo_breakout_tiny"),
    "--set", "train.total_steps=2048", "--set", "train.num_envs=8", "--set", "train.num_steps=64",
    "--set", "train.eval_every=1024", "--set", "train.eval_episodes=2", "--set", "train.checkpoint_every=1024"],
  { stdio: ["ignore", "ignore", "inherit"], timeout: 300_000 });
  server = spawn(EMBER, ["serve", "--runs", runs, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  url = await printedUrl(server, "ember serve");
  profile = mkdtempSync(path.join(tmpdir(), "ember-chromium-"));
  // A fresh profile each run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill("SIGINT");
  for (const d of [runs, profile]) if (d) rmSync(d, { recursive: true, force: true });
});

// A page that records console errors and uncaught exceptions, at `hash` of the server's page
// (or at `full`, another server's URL).
async function open(hash, full) {
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("requestfailed", (r) => {
    // A stream the page closes itself is aborted by design.
    if (!r.url().includes("/events")) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  await page.goto(full || url + hash);
  return { page, errors };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ART, name), fullPage: true });
}

test("the runs page lists the run and draws its learning curve", async () => {
  const { page, errors } = await open("#/runs");
  await page.locator('tr.run-row[data-id="ppo_breakout_tiny"]').waitFor();
  assert.equal(await page.locator('tr[data-id="ppo_breakout_tiny"] [data-status]').getAttribute("data-status"), "finished");
  await shot(page, "runs.png");
  await page.click('tr[data-id="ppo_breakout_tiny"]');
  await page.locator('.chart[data-title="charts/episodic_return"] canvas').first().waitFor();
  await page.waitForFunction(() => {
    const u = window.__ember.charts["charts/episodic_return"];
    return u && u.data[0].length > 0;
  });
  const points = await page.evaluate(() => window.__ember.charts["charts/episodic_return"].data[0].length);
  assert.ok(points > 0);
  assert.ok(await page.locator('.chart[data-title="eval/mean_return"]').count() === 1);
  assert.match(await page.locator("#summary").innerText(), /eval_mean_return/);
  await shot(page, "run-curves.png");
  assert.deepEqual(errors, []);
  await page.close();
});

test("a random-vs-random 9x9 Go match shows stones and its result", async () => {
  const { page, errors } = await open("#/matches");
  await page.selectOption('select[name="game"]', "go");
  await page.fill('input[name="size"]', "9");
  await page.fill('input[name="p1"]', "random");
  await page.fill('input[name="p2"]', "random");
  await page.fill('input[name="delay"]', "40");
  await page.click("#start-match");
  await page.locator("canvas#board").waitFor();
  await page.waitForFunction(() => window.__ember.match && window.__ember.match.moves.length >= 12);
  await shot(page, "match-go-in-progress.png");
  await page.waitForFunction(() => window.__ember.match.end !== null, null, { timeout: 60_000 });
  const { stones, moves } = await page.evaluate(() => {
    const m = window.__ember.match;
    return { stones: Board.count(m.moves[m.moves.length - 1].board.cells), moves: m.moves.length };
  });
  assert.ok(moves > 20, `${moves} moves`);
  assert.ok(stones > 10, `${stones} stones`);
  assert.match(await page.locator("#result").innerText(), /Result: (B\+|W\+|0)/);
  assert.equal(await page.locator("#sgf-link").count(), 1);
  // Step back through the finished game.
  await page.click('button[title="first"]');
  assert.equal(await page.evaluate(() => window.__ember.match.cursor), 0);
  assert.equal(await page.locator("#move-label").innerText(), `move 0 / ${moves}`);
  await page.click('button[title="forward"]');
  assert.equal(await page.evaluate(() => window.__ember.match.cursor), 1);
  await page.click('button[title="last (follow live)"]');
  await shot(page, "match-go-finished.png");
  assert.deepEqual(errors, []);
  await page.close();
});

test("a Connect Four match with a searching player shows its candidates and result", async () => {
  const { page, errors } = await open("#/matches");
  await page.selectOption('select[name="game"]', "connect_four");
  await page.fill('input[name="p1"]', "uct:300");
  await page.fill('input[name="p2"]', "random");
  await page.fill('input[name="delay"]', "20");
  await page.click("#start-match");
  await page.locator("canvas#board.c4").waitFor();
  await page.waitForFunction(() => window.__ember.match && window.__ember.match.end !== null, null, { timeout: 60_000 });
  assert.match(await page.locator("#result").innerText(), /Result: /);
  // Show the position before the searching player's first move: its candidates.
  await page.click('button[title="first"]');
  assert.ok(await page.locator("#cand-table tr").count() > 1);
  const wr = await page.evaluate(() => window.__ember.charts["first player's win rate"].data[0].length);
  assert.ok(wr > 0, "a win-rate point per searched move");
  await shot(page, "match-connect-four.png");
  assert.deepEqual(errors, []);
  await page.close();
});

test("the trained agent plays Breakout with its action probabilities", async () => {
  const { page, errors } = await open("#/episodes");
  await page.locator('select[name="agent"] option[value="ppo_breakout_tiny"]').waitFor({ state: "attached" });
  await page.selectOption('select[name="agent"]', "ppo_breakout_tiny");
  assert.equal(await page.locator('select[name="env"]').inputValue(), "Breakout-v0");
  await page.fill('input[name="max_steps"]', "150");
  await page.fill('input[name="delay"]', "10");
  await page.click("#start-episode");
  await page.locator("canvas#frame").waitFor();
  await page.waitForFunction(() => window.__ember.episode && window.__ember.episode.last && window.__ember.episode.last.t >= 5);
  const legend = await page.locator(".legend-entry").allInnerTexts();
  assert.equal(legend.length, 4, legend.join(", "));
  assert.equal(await page.locator("#outputs-title").innerText(), "Action probabilities");
  assert.equal(await page.locator("#outputs .bar").count(), 6);
  await shot(page, "episode-breakout.png");
  await page.waitForFunction(() => window.__ember.episode.end !== null, null, { timeout: 60_000 });
  assert.match(await page.locator("#episode-result").innerText(), /Episode (terminated|truncated|max_steps) after \d+ steps/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the page ember match --serve prints follows its games live", async () => {
  const child = spawn(EMBER, ["match", "go", "--size", "9", "--black", "random", "--white", "uct:30",
    "--games", "2", "--delay-ms", "60", "--serve", "--port", "0", "--serve-linger", "120"],
  { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const at = await printedUrl(child, "ember match --serve");
    assert.match(at, /^http:\/\/127\.0\.0\.1:\d+\/#\/matches\/attached$/);
    const { page, errors } = await open(null, at);
    // The printed URL opens the game being played.
    await page.waitForFunction(() => /^#\/matches\/\d+$/.test(location.hash));
    await page.locator("canvas#board").waitFor();
    assert.match(await page.locator("#attached").innerText(), /game 1 of 2, played by ember match --serve/);
    assert.equal(await page.locator("#stop").count(), 0, "no Stop button: the terminal plays it");
    await page.waitForFunction(() => window.__ember.match && window.__ember.match.moves.length >= 16);
    const stones = await page.evaluate(() => {
      const m = window.__ember.match;
      return Board.count(m.moves[m.moves.length - 1].board.cells);
    });
    assert.ok(stones >= 8, `${stones} stones`);
    // White searches: its candidates and the win-rate graph.
    await page.waitForFunction(() => window.__ember.charts["first player's win rate"].data[0].length > 3);
    await shot(page, "match-attached.png");
    // At the end of game 1 a viewer following live is taken to game 2.
    await page.waitForFunction(() => window.__ember.match && window.__ember.match.end !== null, null, { timeout: 90_000 });
    assert.match(await page.locator("#result").innerText(), /Result: /);
    assert.equal(await page.locator("#sgf-link").count(), 1);
    await page.locator("#next-link").waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => window.__ember.match && window.__ember.match.start
      && window.__ember.match.start.attached.game === 2, null, { timeout: 30_000 });
    await page.locator("canvas#board").waitFor();
    await page.waitForFunction(() => window.__ember.match.moves.length >= 4);
    assert.match(await page.locator("#attached").innerText(), /game 2 of 2/);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    child.kill("SIGINT");
  }
});
