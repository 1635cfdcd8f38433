// The web console in real headless Chromium, as a support agent uses it. Run by the
// binary test `console::the_console_finds_fixes_and_deletes_contacts`, which starts the
// server and passes (in the environment) ROSTER_BASE, ROSTER_WORKSPACE, ROSTER_KEY (all
// permissions), ROSTER_READ_KEY (read only), ROSTER_LIMITED_KEY (three requests an hour),
// ROSTER_OTHER_CONTACT (a contact of another workspace), ROSTER_ORGANIZATION (one with two
// members), ROSTER_ADMIN_TOKEN and ROSTER_SCREENSHOT (where to save the contacts page).
// Exits non-zero with the failed step on stderr.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import http from "node:http";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("ROSTER_BASE");
const workspace = env("ROSTER_WORKSPACE");
const key = env("ROSTER_KEY");
const readKey = env("ROSTER_READ_KEY");
const otherContact = env("ROSTER_OTHER_CONTACT");
const organization = env("ROSTER_ORGANIZATION");

/** ChatCaptain's API, to see what the console changed. */
async function chatcaptain(path) {
  const response = await fetch(`${base}/v1/chatbots/${workspace}${path}`, { headers: { "x-chatcaptain-key": key } });
  return { status: response.status, body: await response.json() };
}

/** Controls a screen reader could not name: no label, no text, no aria-label. */
const unnamedControls = (page) => page.evaluate(() =>
  [...document.querySelectorAll("main button, main input, main select, main a, nav a, header button")]
    .filter((control) => control.offsetParent !== null)
    .filter((control) => {
      const labelled = control.id && document.querySelector(`label[for="${control.id}"]`);
      return !labelled && !control.getAttribute("aria-label") && !control.textContent.trim() && !control.closest("label");
    })
    .map((control) => control.outerHTML));

/** A webhook receiver on 127.0.0.1 that answers 200 and keeps what it was sent. */
const received = [];
const receiver = http.createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => { body += chunk; });
  request.on("end", () => { received.push(JSON.parse(body)); response.end("ok"); });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let step = "starting";
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const seen = [];
  page.on("request", (request) => seen.push(request.url()));

  step = "sign in with a key";
  await page.goto(base + "/");
  assert.equal(new URL(page.url()).pathname, "/console");
  await page.getByLabel("Token").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  const search = page.getByLabel("Search contacts");
  await search.waitFor();
  // An empty box lists the newest first.
  await page.getByText("3 contacts found").waitFor();
  assert.equal(await page.getByRole("listitem").first().getByRole("link").textContent(), "Alan Turing");

  step = "results arrive without moving the page around";
  await page.evaluate(() => {
    window.shifted = 0;
    new PerformanceObserver((list) => {
      for (const shift of list.getEntries()) window.shifted += shift.value;
    }).observe({ type: "layout-shift", buffered: false });
  });
  for (const typed of ["A", "Al", "Ala", "Alan", "", "G", "Gr", "Grace"]) {
    await search.fill(typed);
    await page.waitForTimeout(150);
  }
  await search.fill("");
  await page.getByText("3 contacts found").waitFor();
  const shifted = await page.evaluate(() => window.shifted);
  assert.ok(shifted < 0.01, `layout shift ${shifted} while results arrived`);

  step = "filter by a facet, and back";
  const chip = page.getByRole("group", { name: "Filters" }).getByRole("button", { name: "Analytical Engines (2)" });
  await chip.click();
  await page.getByText("2 contacts found").waitFor();
  assert.equal(await chip.getAttribute("aria-pressed"), "true");
  assert.equal(await page.getByRole("link", { name: "Alan Turing" }).count(), 0);
  await chip.click();
  await page.getByText("3 contacts found").waitFor();

  step = "search with a typo and see the highlighted contact";
  await search.fill("Lovelase");
  const ada = page.getByRole("link", { name: "Ada Lovelace" });
  await ada.waitFor();
  assert.equal(await ada.locator("mark").first().textContent(), "Lovelace");
  await page.getByText("1 contact found").waitFor();
  await page.screenshot({ path: env("ROSTER_SCREENSHOT") });

  step = "every control on the contacts page has a name";
  assert.deepEqual(await unnamedControls(page), []);

  step = "open it with the keyboard only: Tab to the result, Enter";
  await search.focus();
  for (let presses = 0; presses < 20; presses += 1) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(() => document.activeElement?.textContent === "Ada Lovelace")) break;
  }
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Ada Lovelace");
  assert.ok(await page.evaluate(() => document.activeElement.matches(":focus-visible")), "the focus is not shown");
  await page.keyboard.press("Enter");
  const email = page.getByLabel("Email");
  await email.waitFor();
  assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Ada Lovelace");
  // The new page starts at its heading, for keyboard and screen reader users.
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), "H1");
  assert.deepEqual(await unnamedControls(page), []);

  step = "an invalid email is refused at the field";
  await email.fill("not an address");
  await page.getByRole("button", { name: "Save" }).click();
  const error = page.locator("#field-email-error");
  await page.waitForFunction(() => document.querySelector("#field-email-error")?.textContent.length > 0);
  assert.match(await error.textContent(), /address/);
  assert.equal(await email.getAttribute("aria-invalid"), "true");
  const id = new URL(page.url()).hash.split("/").pop();
  assert.equal((await chatcaptain(`/contacts/${id}`)).body.contact.email, "ada@example.com");

  step = "fixed, the change is seen through the ChatCaptain API";
  await email.fill("ada@lovelace.example");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved.").waitFor();
  assert.equal(await error.textContent(), "");
  assert.equal((await chatcaptain(`/contacts/${id}`)).body.contact.email, "ada@lovelace.example");

  step = "delete asks first, Escape keeps the contact";
  await page.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal((await chatcaptain(`/contacts/${id}`)).status, 200);

  step = "delete with the dialog's Delete";
  await page.getByRole("button", { name: "Delete" }).click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await search.waitFor();
  assert.equal((await chatcaptain(`/contacts/${id}`)).status, 404);

  step = "organizations: search with a typo, open, see the members";
  await page.getByRole("link", { name: "Organizations" }).click();
  await page.getByLabel("Search organizations").fill("Analitical");
  await page.getByRole("link", { name: "Analytical Engines" }).click();
  await page.getByRole("heading", { name: "Members (1)" }).waitFor();
  // Ada was deleted above: Grace is the one member left.
  await page.getByRole("list", { name: "Members" }).getByRole("link", { name: "Grace Hopper" }).waitFor();

  step = "an organization's invalid website is refused at the field, then fixed";
  const website = page.getByLabel("Website");
  await website.fill("not a url");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForFunction(() => document.querySelector("#field-website-error")?.textContent.length > 0);
  assert.equal(await website.getAttribute("aria-invalid"), "true");
  await website.fill("https://engines.example");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved.").waitFor();
  assert.equal((await chatcaptain(`/organizations/${organization}`)).body.organization.website, "https://engines.example");

  step = "deleting the organization keeps its members";
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByLabel("Search organizations").waitFor();
  assert.equal((await chatcaptain(`/organizations/${organization}`)).status, 404);
  assert.equal((await chatcaptain("/contacts/search?query=Grace&page=1&pageSize=10")).body.results.found, 1);

  step = "import a CSV with a bad row and see its reason";
  await page.getByRole("link", { name: "Import" }).click();
  const csv = "name,email\nKatherine Johnson,katherine@example.com\nBad Row,not-an-email\nDorothy Vaughan,dorothy@example.com\n";
  await page.getByLabel("CSV file", { exact: true }).setInputFiles({ name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByRole("button", { name: "Import" }).click();
  await page.getByText("3 rows: 2 created, 0 updated, 0 unchanged, 1 rejected.").waitFor();
  const reason = page.getByRole("row").filter({ hasText: "rejected" }).getByRole("cell").nth(2);
  assert.match(await reason.textContent(), /email/);
  const rejectedDownload = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download rejected rows (CSV)" }).click();
  const rejectedFile = await (await rejectedDownload).createReadStream();
  let rejectedText = "";
  for await (const chunk of rejectedFile) rejectedText += chunk;
  assert.match(rejectedText, /^line,outcome,contact_id,reason\n3,rejected,,.*email/);
  assert.equal((await chatcaptain("/contacts/search?query=Katherine&page=1&pageSize=10")).body.results.found, 1);

  step = "export the workspace's contacts";
  const exported = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export contacts (CSV)" }).click();
  let exportText = "";
  for await (const chunk of await (await exported).createReadStream()) exportText += chunk;
  assert.match(exportText, /Katherine Johnson/);
  assert.match(exportText, /Dorothy Vaughan/);
  assert.doesNotMatch(exportText, /Hidden/, "another workspace's contact in the export");

  step = "merge two contacts: choose, see the result, confirm";
  const duplicate = await (await fetch(`${base}/v1/chatbots/${workspace}/contacts`, {
    method: "POST",
    headers: { "x-chatcaptain-key": key, "content-type": "application/json" },
    body: JSON.stringify({ name: "K. Johnson", language: "en", phoneNumber: "+1 415 555 0100" }),
  })).json();
  await page.getByRole("link", { name: "Contacts" }).click();
  await page.getByLabel("Search contacts").fill("Katherine");
  await page.getByRole("link", { name: "Katherine Johnson" }).click();
  await page.getByRole("link", { name: "Merge another contact into this one…" }).click();
  await page.getByLabel("Find the contact to merge in").fill("Johnson");
  await page.getByRole("button", { name: "Choose K. Johnson" }).click();
  const after = page.getByRole("definition").filter({ hasText: "+14155550100" });
  await after.first().waitFor();
  // What moves (the phone), and what conflicts (the names: the base keeps its own).
  const moves = page.locator(`dl[aria-label="What Katherine Johnson takes from K. Johnson"]`);
  assert.match(await moves.textContent(), /phone\+14155550100/);
  assert.match(await page.getByRole("list", { name: "Conflicts" }).textContent(), /name: keeps Katherine Johnson, drops K\. Johnson/);
  assert.equal(await page.getByRole("button", { name: "Choose Katherine Johnson" }).count(), 0, "the base is no candidate");
  assert.equal((await chatcaptain(`/contacts/${duplicate.contact.id}`)).status, 200, "a preview changes nothing");
  await page.getByRole("button", { name: "Merge", exact: true }).click();
  await page.getByRole("heading", { name: "Katherine Johnson", level: 1, exact: true }).waitFor();
  assert.equal((await chatcaptain(`/contacts/${duplicate.contact.id}`)).status, 404);
  const merged = (await chatcaptain("/contacts/search?query=Katherine&page=1&pageSize=10")).body.results.hits[0].contact;
  assert.equal(merged.phoneNumber, "+14155550100");
  assert.equal(merged.email, "katherine@example.com");

  step = "every control on the import and keys pages has a name";
  assert.deepEqual(await unnamedControls(page), []);
  await page.getByRole("link", { name: "Keys" }).click();
  await page.getByLabel("Key name").waitFor();
  assert.deepEqual(await unnamedControls(page), []);

  step = "webhooks: a bad URL is refused at the field";
  await page.getByRole("link", { name: "Webhooks" }).click();
  const hookUrl = page.getByLabel("Webhook URL");
  await hookUrl.fill("not a url");
  await page.getByRole("button", { name: "Add webhook" }).click();
  await page.waitForFunction(() => document.querySelector("#webhook-url-error")?.textContent.length > 0);
  assert.equal(await hookUrl.getAttribute("aria-invalid"), "true");
  assert.deepEqual(await unnamedControls(page), []);

  step = "webhooks: add one, its secret shown once, a change reaches it";
  await hookUrl.fill(receiverUrl);
  await page.getByLabel(/^Events/).fill("contact.updated");
  await page.getByRole("button", { name: "Add webhook" }).click();
  assert.match(await page.locator("#new-secret").inputValue(), /^whsec_/);
  await page.getByRole("cell", { name: receiverUrl, exact: true }).waitFor();
  const dorothy = (await chatcaptain("/contacts/search?query=Dorothy&page=1&pageSize=1")).body.results.hits[0].contact;
  await fetch(`${base}/v1/chatbots/${workspace}/contacts/${dorothy.id}`, {
    method: "PATCH",
    headers: { "x-chatcaptain-key": key, "content-type": "application/json" },
    body: JSON.stringify({ contact: { name: "Dorothy J. Vaughan" } }),
  });
  for (let waited = 0; !received.length && waited < 100; waited += 1) await new Promise((r) => setTimeout(r, 100));
  assert.equal(received[0]?.type, "contact.updated", JSON.stringify(received));

  step = "webhooks: its deliveries, then delete it";
  await page.getByRole("button", { name: `Deliveries of ${receiverUrl}` }).click();
  await page.getByRole("cell", { name: "HTTP 200" }).waitFor();
  await page.getByRole("button", { name: `Delete ${receiverUrl}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByText("No webhooks yet").waitFor();

  step = "create a key: its secret shown once, and it works";
  await page.getByRole("link", { name: "Keys" }).click();
  await page.getByLabel("Key name").fill("Temporary");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.locator("#new-secret").inputValue();
  assert.match(secret, /^rk_\d+_[0-9a-f]{64}$/);
  await page.getByRole("button", { name: "Copy" }).waitFor();
  const withSecret = (k) => fetch(`${base}/v1/chatbots/${workspace}/contacts?limit=1`, { headers: { "x-chatcaptain-key": k } });
  assert.equal((await withSecret(secret)).status, 200);

  step = "revoke it: the API refuses it from then on";
  await page.getByRole("button", { name: "Revoke Temporary" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await page.getByText(/^revoked /).waitFor();
  assert.equal((await withSecret(secret)).status, 401);

  step = "another workspace's contact id shows not found";
  await page.goto(`${base}/console#/contacts/${otherContact}`);
  await page.getByRole("heading", { name: "Contact not found" }).waitFor();

  step = "the key never goes into a URL";
  assert.ok(seen.every((url) => !url.includes(key)), "a request URL held the key");

  step = "sign out forgets the key";
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Token").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  step = "a read-only key sees no edit controls";
  await page.getByLabel("Token").fill(readKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Search contacts").fill("Grace");
  await page.getByRole("link", { name: "Grace Hopper" }).click();
  await page.getByLabel("Email").waitFor();
  assert.equal(await page.getByRole("button", { name: "Save" }).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Delete" }).count(), 0);
  assert.equal(await page.getByLabel("Email").getAttribute("readonly"), "");

  step = "a contact page lists who changed what";
  const changes = page.getByRole("table", { name: "History", exact: true });
  await changes.waitFor();
  // Newest first: the second stage move (SalesChat), the first, then the creation.
  const rows = await changes.getByRole("row").evaluateAll((all) => all.slice(1).map((row) => [...row.cells].slice(1, 3).map((cell) => cell.textContent)));
  assert.deepEqual(rows.slice(0, 3), [["stage_changed", "key k via saleschat"], ["stage_changed", "key k via saleschat"], ["created", "key k via chatcaptain"]]);
  assert.match(await changes.getByRole("row").nth(1).textContent(), /stage: LEAD → QUALIFIED/);

  step = "a contact page lists its stage history";
  const stages = page.getByRole("table", { name: "Stage history" });
  await stages.waitFor();
  assert.deepEqual(
    await stages.getByRole("row").evaluateAll((rows) => rows.slice(1).map((row) => row.cells[2].textContent)),
    ["LEAD", "QUALIFIED"],
  );

  step = "a wrong key is refused with what to do";
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Token").fill("rk_999_" + "0".repeat(64));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(/does not know this token/).waitFor();

  step = "the admin token: create a workspace, then a key for it";
  await page.getByLabel("Token").fill(env("ROSTER_ADMIN_TOKEN"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  // A workspace's page asks which workspace first, then opens there.
  await page.getByRole("link", { name: "Keys" }).click();
  await page.getByText("Choose the workspace to work in.").waitFor();
  await page.getByLabel("Workspace name").fill("Made in the browser");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByRole("link", { name: "Made in the browser" }).click();
  await page.getByRole("heading", { name: "Keys of Made in the browser" }).waitFor();
  await page.getByText("Administrator · in Made in the browser").waitFor();
  await page.getByLabel("Key name").fill("first");
  await page.getByRole("button", { name: "Create key" }).click();
  const adminMade = await page.locator("#new-secret").inputValue();
  const made = await (await fetch(`${base}/console/api/session`, { headers: { authorization: `Bearer ${adminMade}` } })).json();
  assert.equal(made.workspace.name, "Made in the browser");
  await page.getByRole("link", { name: "Contacts" }).click();
  await page.getByText("0 contacts found").waitFor();

  step = "the admin token works in any workspace: find and edit a contact";
  await page.getByRole("link", { name: "Workspaces" }).click();
  await page.getByRole("link", { name: "Console", exact: true }).click();
  await page.getByLabel("Search contacts").fill("Grase");
  await page.getByRole("link", { name: "Grace Hopper" }).click();
  await page.getByLabel("Phone").fill("+44 20 7946 0000");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved.").waitFor();
  const grace = (await chatcaptain("/contacts/search?query=Grace&page=1&pageSize=1")).body.results.hits[0].contact;
  assert.equal(grace.phoneNumber, "+442079460000");
  await page.getByRole("button", { name: "Sign out" }).click();

  step = "a key over its rate limit is told how long to wait";
  await page.getByLabel("Token").fill(env("ROSTER_LIMITED_KEY"));
  await page.getByRole("button", { name: "Sign in" }).click();
  const limitedBox = page.getByLabel("Search contacts");
  for (const typed of ["G", "Gr", "Gra", "Grac"]) {
    await limitedBox.fill(typed);
    await page.waitForTimeout(100);
  }
  await page.getByRole("alert").filter({ hasText: /^Too many requests: wait \d+ s and try again\.$/ }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();

  step = "a key revoked while signed in signs the console out, saying what to do";
  const consoleApi = (method, path, body) => fetch(`${base}/console/api${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  }).then((response) => response.json());
  const doomed = await consoleApi("POST", "/keys", { name: "doomed", permissions: ["chatbots.contacts.*"] });
  await page.getByLabel("Token").fill(doomed.key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Search contacts").waitFor();
  await consoleApi("DELETE", `/keys/${doomed.id}`);
  await page.getByLabel("Search contacts").fill("Grace");
  await page.getByLabel("Token").waitFor();
  await page.getByRole("alert").filter({ hasText: "Your key is unknown or was revoked: sign in again." }).waitFor();

  step = "dark mode follows the system";
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: "light" });
  assert.equal(await background(), "rgb(255, 255, 255)");
  await page.emulateMedia({ colorScheme: "dark" });
  assert.equal(await background(), "rgb(21, 24, 28)");
  await page.emulateMedia({ colorScheme: "light" });

  step = "at 375 px nothing is wider than the screen";
  await page.setViewportSize({ width: 375, height: 700 });
  await page.getByLabel("Token").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Search contacts").waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375));
  console.log("console: every step passed");
} catch (err) {
  console.error(`console test failed at "${step}": ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  receiver.close();
}
