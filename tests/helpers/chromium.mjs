// Headless Chromium for the page tests: Debian's `chromium` (installed by scripts/setup.sh),
// driven by playwright-core. Nothing is downloaded; background networking is off because
// this machine's network is closed. Each launch gets a fresh temporary profile.
import { chromium } from "playwright-core";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** The `chromium` program on PATH (or CHROMIUM_PATH). */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, ...(process.env.PATH ?? "").split(":").map((d) => d && path.join(d, "chromium")), "/usr/bin/chromium"];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) throw new Error("chromium is not installed: run `npm run setup` (it installs Debian's chromium package)");
  return found;
}

export function launchChromium() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** The two screens every page is checked on. */
export const DEVICES = [
  { name: "desktop", options: { viewport: { width: 1280, height: 800 } } },
  {
    name: "phone",
    options: {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      userAgent:
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    },
  },
];

const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core in the page (through the DevTools protocol, which the page's CSP does not
 * govern) and returns its violations as short strings. `rules` limits the run.
 */
export async function axeViolations(page, rules) {
  await page.evaluate(axeSource);
  const options = rules ? { runOnly: { type: "rule", values: rules } } : {};
  const result = await page.evaluate((o) => globalThis.axe.run(document, o), options);
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/**
 * Records what a page must never show: console errors (CSP violations among them) and
 * uncaught exceptions.
 */
export function watchConsole(page) {
  const problems = [];
  page.on("console", (m) => {
    if (m.type() !== "error" && m.type() !== "warning") return;
    // Chromium reports a page answered with 4xx (a failed sign-in is a 401 page) as a failed
    // resource; that is the page's own status, not a problem on it. Subresources still count.
    const ownStatus = /^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()) && m.location().url === page.url();
    if (!ownStatus) problems.push(`${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  return problems;
}
