// The console's keystroke-to-results time, in headless Chromium against a running server
// with a large workspace: `scripts/console-bench.sh` loads it and runs this. Environment:
// ROSTER_BASE, ROSTER_KEY (a key of the workspace), CHROMIUM (default /usr/bin/chromium).
//
// A person empties the box (Ctrl+A, Backspace: the newest contacts of the whole workspace
// are listed) and types each query one key at a time, KEY_GAP_MS apart (a brisk typist).
// For every keystroke this measures the time from its input event to the first frame
// drawn after that keystroke's answer was rendered (the results and the total replaced
// while the box held that text); a keystroke whose answer was overtaken by the next one
// counts as overtaken. It also times the first page after signing in.
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
    window.inputs = [];
    window.painted = [];
    // Input events, not keydowns: a key that types a character outside ASCII (ü) comes
    // as text input without one.
    box.addEventListener("input", () => window.inputs.push({ value: box.value, at: performance.now() }), true);
    new MutationObserver(() => {
      const value = box.value;
      requestAnimationFrame(() => window.painted.push({ value, at: performance.now() }));
    }).observe(document.querySelector(".summary"), { childList: true, characterData: true, subtree: true });
  });

  const latencies = [];
  const emptied = [];
  let overtaken = 0;
  await page.getByLabel("Search contacts").focus();
  for (const query of QUERIES) {
    await page.evaluate(() => { window.inputs = []; window.painted = []; });
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Backspace");
    await page.waitForTimeout(400);
    for (const char of query) {
      await page.keyboard.type(char);
      await page.waitForTimeout(KEY_GAP_MS);
    }
    await page.waitForTimeout(500);
    const { inputs, painted } = await page.evaluate(() => ({ inputs: window.inputs, painted: window.painted }));
    for (const input of inputs) {
      const shown = painted.find((mark) => mark.value === input.value && mark.at > input.at);
      if (!shown) overtaken += 1;
      else if (input.value === "") emptied.push(shown.at - input.at);
      else latencies.push(shown.at - input.at);
    }
  }
  const spread = (times) => {
    times.sort((a, b) => a - b);
    const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
    return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, p99 ${at(0.99)} ms, max ${times.at(-1).toFixed(1)} ms`;
  };
  console.log(`first page after sign-in (the empty box): ${firstPage} ms`);
  console.log(`keystroke to results drawn, ${latencies.length} keystrokes ${KEY_GAP_MS} ms apart (${overtaken} overtaken): ${spread(latencies)}`);
  console.log(`emptying the box to the newest contacts drawn, ${emptied.length} times: ${spread(emptied)}`);
} finally {
  await browser.close();
}
