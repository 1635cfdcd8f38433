// The console's keystroke-to-results time, in headless Chromium against a running server
// with a large workspace: `scripts/console-bench.sh` loads it and runs this. Environment:
// ROSTER_BASE, ROSTER_KEY (a key of the workspace), CHROMIUM (default /usr/bin/chromium).
//
// A person types each query one key at a time, KEY_GAP_MS apart (a brisk typist). For
// every keystroke this measures the time from the key going down to the first frame drawn
// after that keystroke's answer was rendered (the box showing that value, the results and
// the total replaced); a keystroke whose answer was overtaken by the next one counts as
// not shown. It also times the first page of an empty box (every contact, newest first).
import { chromium } from "playwright-core";

const base = process.env.ROSTER_BASE;
const key = process.env.ROSTER_KEY;
const KEY_GAP_MS = Number(process.env.KEY_GAP_MS ?? 120);
// Names in the benchmark's data, typed as people do: whole, with a typo, or in part.
const QUERIES = [
  "Lukas Müller", "Leonie Schmit", "Friederike", "Maximilian Weber", "Sören Fischer",
  "Anneliese Meyr", "Jürgen Schneider", "lukas", "leonie weber", "Schneidr",
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(`${base}/console`);
  await page.getByLabel("Token").fill(key);
  const signedIn = Date.now();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(/^[\d,]+ contacts found$/).waitFor({ timeout: 60000 });
  const firstPage = Date.now() - signedIn;

  // Marks each rendered answer: the box's value then, and the next frame's time.
  await page.evaluate(() => {
    const box = document.getElementById("search");
    window.keydowns = [];
    window.painted = [];
    box.addEventListener("keydown", () => window.keydowns.push(performance.now()), true);
    new MutationObserver(() => {
      const value = box.value;
      requestAnimationFrame(() => window.painted.push({ value, at: performance.now() }));
    }).observe(document.querySelector(".summary"), { childList: true, characterData: true, subtree: true });
  });

  const latencies = [];
  let overtaken = 0;
  const box = page.getByLabel("Search contacts");
  for (const query of QUERIES) {
    await box.fill("");
    await page.waitForTimeout(300);
    await page.evaluate(() => { window.keydowns = []; window.painted = []; });
    for (const char of query) {
      await page.keyboard.type(char);
      await page.waitForTimeout(KEY_GAP_MS);
    }
    await page.waitForTimeout(500);
    const { keydowns, painted } = await page.evaluate(() => ({ keydowns: window.keydowns, painted: window.painted }));
    keydowns.forEach((down, index) => {
      const value = query.slice(0, index + 1);
      const shown = painted.find((mark) => mark.value === value && mark.at > down);
      if (shown) latencies.push(shown.at - down);
      else overtaken += 1;
    });
  }
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  console.log(`first page (empty box) after sign-in: ${firstPage} ms`);
  console.log(
    `keystroke to results drawn, ${latencies.length} keystrokes (${overtaken} overtaken), ${KEY_GAP_MS} ms apart: ` +
    `p50 ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${latencies.at(-1).toFixed(1)} ms`,
  );
} finally {
  await browser.close();
}
