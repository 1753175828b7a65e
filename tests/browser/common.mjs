// What the browser tests share: where the ember binary, the repository and the screenshots are,
// and the URL a child `ember` prints.
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../..");
const target = process.env.CARGO_TARGET_DIR || path.join(repo, "target");
export const EMBER = process.env.EMBER_BIN || path.join(target, "release", "ember");
export const ART = process.env.EMBER_ARTIFACTS || path.join(here, "artifacts");

// The URL a child `ember` prints on its stdout, alone on its line.
export function printedUrl(child, what) {
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const line = buf.split("\n").find((l) => l.startsWith("http://"));
      if (line) resolve(line.trim());
    });
    child.on("exit", (code) => reject(new Error(`${what} exited with ${code}`)));
    setTimeout(() => reject(new Error(`${what} printed no URL`)), 30_000);
  });
}
