// A smoke test of `ember serve` in Firefox: Debian's stock firefox-esr, driven by puppeteer-core
// from the npm registry over WebDriver BiDi (Firefox's own remote protocol; Playwright's Firefox
// needs its patched build instead). Trains a tiny PPO CartPole run, starts `ember serve --runs`
// on a free port, and checks that the runs page draws the run's curve and that a random-vs-random
// 9x9 Go match shows stones and its result, without console errors. Screenshots go to
// $EMBER_ARTIFACTS (default tests/browser/artifacts).
//
//   EMBER_BIN=path/to/ember node --test tests/browser/firefox.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { repo, EMBER, ART, printedUrl } from "./common.mjs";

const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";

let runs, server, url, browser;

before(async () => {
  assert.ok(existsSync(EMBER), `no ember binary at ${EMBER} (set EMBER_BIN)`);
  assert.ok(existsSync(FIREFOX), `no Firefox at ${FIREFOX} (set FIREFOX)`);
  mkdirSync(ART, { recursive: true });
  runs = mkdtempSync(path.join(tmpdir(), "ember-firefox-runs-"));
  execFileSync(EMBER, ["train", path.join(repo, "experiments/ppo_cartpole.toml"),
    "--run-dir", path.join(runs, "ppo_cartpole_tiny"),
    "--set", "train.total_steps=4096", "--set", "train.eval_every=2048", "--set", "train.eval_episodes=2"],
  { stdio: ["ignore", "ignore", "inherit"], timeout: 300_000 });
  server = spawn(EMBER, ["serve", "--runs", runs, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  url = await printedUrl(server, "ember serve");
  // puppeteer makes a fresh profile in a temporary directory and removes it on close.
  browser = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true,
    defaultViewport: { width: 1280, height: 900 } });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill("SIGINT");
  if (runs) rmSync(runs, { recursive: true, force: true });
});

async function open(hash) {
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url + hash);
  return { page, errors };
}

test("Firefox: the runs page draws the run's learning curve", async () => {
  const ua = await browser.version();
  assert.match(ua, /firefox/i, ua);
  const { page, errors } = await open("#/runs");
  await page.waitForSelector('tr.run-row[data-id="ppo_cartpole_tiny"]');
  await page.click('tr[data-id="ppo_cartpole_tiny"]');
  await page.waitForFunction(() => {
    const u = window.__ember.charts["charts/episodic_return"];
    return u && u.data[0].length > 0;
  });
  await page.waitForSelector('.chart[data-title="charts/episodic_return"] canvas');
  await page.screenshot({ path: path.join(ART, "firefox-run-curves.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("Firefox: a random-vs-random 9x9 Go match shows stones and its result", async () => {
  const { page, errors } = await open("#/matches");
  await page.waitForSelector("#start-match");
  await page.select('select[name="game"]', "go");
  await page.$eval('input[name="p2"]', (el) => { el.value = "random"; });
  await page.$eval('input[name="delay"]', (el) => { el.value = "20"; });
  await page.click("#start-match");
  await page.waitForSelector("canvas#board");
  await page.waitForFunction(() => window.__ember.match && window.__ember.match.end !== null, { timeout: 60_000 });
  const stones = await page.evaluate(() => {
    const m = window.__ember.match;
    return Board.count(m.moves[m.moves.length - 1].board.cells);
  });
  assert.ok(stones > 10, `${stones} stones`);
  assert.match(await page.$eval("#result", (e) => e.innerText), /Result: (B\+|W\+|0)/);
  await page.click('button[title="first"]');
  assert.equal(await page.evaluate(() => window.__ember.match.cursor), 0);
  await page.screenshot({ path: path.join(ART, "firefox-match-go.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
