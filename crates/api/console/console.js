// Roster console: a page per hash route (#/contacts, #/contacts/{id}), built with the DOM
// (never from HTML strings, so no record text is ever parsed as markup). It calls the
// ChatCaptain API with the signed-in key and /console/api for what the key is and a
// contact's whole record. The key stays in this tab's sessionStorage and is sent only
// in headers.

const KEY = "roster.console.key";
const PAGE_SIZE = 20;

const main = document.getElementById("main");
const alertBox = document.getElementById("alert");
let session = null;

// --- small DOM helpers --------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

/** A search snippet (the record's text, HTML-escaped, with <mark> around matches) as
 * nodes: only text and <mark> survive. */
function snippet(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  return [...parsed.body.childNodes].map((node) =>
    node.nodeName === "MARK" ? el("mark", {}, node.textContent) : document.createTextNode(node.textContent),
  );
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function say(message) {
  alertBox.textContent = message;
  alertBox.hidden = !message;
}

function may(permission) {
  return session?.permissions.includes(permission);
}

// --- the API ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.error ?? `Roster answered ${status}.`);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

async function call(method, path, body, headers = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      ...headers,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let answer = null;
  try { answer = text ? JSON.parse(text) : null; } catch { answer = null; }
  if (!response.ok) {
    throw new ApiError(response.status, answer, response.headers.get("retry-after"));
  }
  return answer;
}

/** The ChatCaptain API of the signed-in workspace. */
function chatcaptain(method, path, body) {
  const key = sessionStorage.getItem(KEY);
  return call(method, `/v1/chatbots/${session.workspace.id}${path}`, body, { "x-chatcaptain-key": key });
}

function consoleApi(path) {
  return call("GET", `/console/api${path}`, undefined, { authorization: `Bearer ${sessionStorage.getItem(KEY)}` });
}

/** Says what to do about a failed request; a key that stopped working signs out. */
function trouble(err) {
  if (!(err instanceof ApiError)) {
    say("Roster cannot be reached: check the server and try again.");
  } else if (err.status === 401) {
    signOut("Your key is unknown or was revoked: sign in again.");
  } else if (err.status === 429) {
    say(`Too many requests: wait ${err.retryAfter ?? "a few"} s and try again.`);
  } else if (err.status === 403) {
    say("This key may not do that.");
  } else {
    say(err.message);
  }
}

// --- signing in and out -------------------------------------------------------------

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    session = await consoleApi("/session");
  } catch (err) {
    sessionStorage.removeItem(KEY);
    session = null;
    throw err;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  document.getElementById("who").textContent = `${session.workspace.name} · ${session.key.name}`;
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY);
  session = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  location.hash = "";
  signInPage();
  say(message);
}

function signInPage() {
  const token = el("input", { id: "token", type: "password", autocomplete: "off", required: true, "aria-describedby": "token-error" });
  const error = el("p", { id: "token-error", class: "error" });
  const form = el("form", { class: "signin", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await signIn(token.value.trim());
      say("");
      location.hash = "#/contacts";
      route();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401
        ? "Roster does not know this key (or it was revoked). Use a workspace's API key (rk_…)."
        : "Roster cannot be reached: check the server and try again.";
      token.setAttribute("aria-invalid", "true");
      token.focus();
    }
  } },
    el("h1", {}, "Sign in"),
    el("div", { class: "field" }, el("label", { for: "token" }, "Token"), token, error),
    el("button", { type: "submit" }, "Sign in"),
  );
  show(form);
  token.focus();
}

// --- contacts -----------------------------------------------------------------------

let searchTurn = 0;

function contactsPage() {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const box = el("input", { id: "search", type: "search", value: params.get("q") ?? "", autocomplete: "off" });
  const summary = el("p", { class: "summary", "aria-live": "polite" });
  const results = el("ul", { class: "results" });
  const pager = el("div", { class: "pager" });
  let page = Number(params.get("page") ?? 1) || 1;

  async function search() {
    const turn = ++searchTurn;
    const query = box.value.trim() || "*";
    const answer = await chatcaptain(
      "GET",
      `/contacts/search?query=${encodeURIComponent(query)}&page=${page}&pageSize=${PAGE_SIZE}`,
    ).catch((err) => { if (turn === searchTurn) trouble(err); return null; });
    // Only the newest search's answer is shown.
    if (!answer || turn !== searchTurn) return;
    const found = answer.results.found;
    summary.textContent = `${found} ${found === 1 ? "contact" : "contacts"} found`;
    results.replaceChildren(...answer.results.hits.map(hitItem));
    const pages = Math.max(1, Math.ceil(Math.min(found, 10000) / PAGE_SIZE));
    pager.replaceChildren(
      el("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => { page -= 1; search(); } }, "Previous"),
      el("span", {}, `Page ${page} of ${pages}`),
      el("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => { page += 1; search(); } }, "Next"),
    );
  }

  box.addEventListener("input", () => { page = 1; search(); });
  show(
    el("h1", {}, "Contacts"),
    el("div", { class: "search" }, el("label", { for: "search" }, "Search contacts"), box),
    summary, results, pager,
  );
  box.focus();
  search();
}

function hitItem(hit) {
  const contact = hit.contact;
  const byName = hit.highlights.find((highlight) => highlight.field === "name");
  const others = hit.highlights.filter((highlight) => highlight.field !== "name");
  return el("li", {},
    el("a", { href: `#/contacts/${contact.id}` }, byName ? snippet(byName.snippet) : contact.name),
    others.map((highlight) => el("span", { class: "snippet" }, `${highlight.field}: `, snippet(highlight.snippet))),
    !others.length && contact.email ? el("span", { class: "snippet" }, contact.email) : null,
  );
}

// --- one contact --------------------------------------------------------------------

/** The ChatCaptain fields the form edits: its label, input type and wire name. */
const EDITABLE = [
  ["Name", "text", "name"],
  ["Email", "email", "email"],
  ["Phone", "tel", "phoneNumber"],
];

async function contactPage(id) {
  let record;
  let contact;
  try {
    [record, { contact }] = await Promise.all([consoleApi(`/contacts/${id}`), chatcaptain("GET", `/contacts/${id}`)]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      show(el("h1", {}, "Contact not found"), el("p", {}, "No contact with this id in this workspace. ", el("a", { href: "#/contacts" }, "Back to contacts")));
      return;
    }
    trouble(err);
    return;
  }
  const editable = may("chatbots.contacts.edit");
  const heading = el("h1", {}, contact.name);
  const inputs = {};
  const errors = {};
  const fields = EDITABLE.map(([label, type, name]) => {
    const id = `field-${name}`;
    errors[name] = el("p", { id: `${id}-error`, class: "error" });
    inputs[name] = el("input", { id, type, value: contact[name] ?? "", readonly: !editable, "aria-describedby": `${id}-error` });
    return el("div", { class: "field" }, el("label", { for: id }, label), inputs[name], errors[name]);
  });
  const saved = el("p", { class: "muted", "aria-live": "polite" });
  const details = el("dl", { class: "record", "aria-label": "Every field" });
  const renderDetails = (view) => details.replaceChildren(...Object.entries(view).flatMap(([name, value]) => [
    el("dt", {}, name),
    el("dd", {}, value === null ? "—" : typeof value === "object" ? JSON.stringify(value, null, 1) : String(value)),
  ]));
  renderDetails(record);

  async function save(event) {
    event.preventDefault();
    saved.textContent = "";
    for (const name of Object.keys(inputs)) {
      errors[name].textContent = "";
      inputs[name].removeAttribute("aria-invalid");
    }
    const patch = {};
    for (const [, , name] of EDITABLE) {
      const value = inputs[name].value.trim();
      if (value !== (contact[name] ?? "")) patch[name] = value === "" ? null : value;
    }
    if (!Object.keys(patch).length) { saved.textContent = "Nothing changed."; return; }
    try {
      ({ contact } = await chatcaptain("PATCH", `/contacts/${id}`, { contact: patch }));
      heading.textContent = contact.name;
      renderDetails(await consoleApi(`/contacts/${id}`));
      saved.textContent = "Saved.";
    } catch (err) {
      // ChatCaptain names the field first: "contact.email: must be an email address…"
      const named = err instanceof ApiError && err.status === 400 ? err.message.split(":")[0] : "";
      const field = named.replace(/^contact\./, "");
      if (inputs[field]) {
        errors[field].textContent = err.message.slice(named.length + 1).trim();
        inputs[field].setAttribute("aria-invalid", "true");
        inputs[field].focus();
      } else if (err instanceof ApiError && err.status === 409) {
        saved.textContent = err.message;
      } else {
        trouble(err);
      }
    }
  }

  const dialog = el("dialog", { "aria-labelledby": "confirm-title" },
    el("h2", { id: "confirm-title" }, `Delete ${contact.name}?`),
    el("p", {}, "The contact is deleted in every dialect. This cannot be undone."),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"),
      el("button", { type: "button", class: "danger", onclick: async () => {
        try {
          await chatcaptain("DELETE", `/contacts/${id}`);
          dialog.close();
          location.hash = "#/contacts";
        } catch (err) {
          dialog.close();
          trouble(err);
        }
      } }, "Delete"),
    ),
  );

  show(
    el("p", {}, el("a", { href: "#/contacts" }, "← Contacts")),
    heading,
    // The server validates (and says why, at the field): no browser-side refusal first.
    el("form", { onsubmit: save, "aria-label": "Contact", novalidate: true },
      fields,
      editable ? el("div", { class: "actions" },
        el("button", { type: "submit" }, "Save"),
        may("chatbots.contacts.delete") ? el("button", { type: "button", class: "danger", onclick: () => dialog.showModal() }, "Delete") : null,
      ) : el("p", { class: "muted" }, "This key may only read contacts."),
      saved,
    ),
    details,
    dialog,
  );
  heading.focus?.();
}

// --- routing ------------------------------------------------------------------------

async function route() {
  if (!session) {
    if (!sessionStorage.getItem(KEY)) return signInPage();
    try {
      await signIn(sessionStorage.getItem(KEY));
    } catch (err) {
      return signOut(err instanceof ApiError ? "Your key is unknown or was revoked: sign in again." : "");
    }
  }
  const path = location.hash.replace(/^#/, "").split("?")[0];
  const contact = path.match(/^\/contacts\/([^/]+)$/);
  if (contact) return contactPage(encodeURIComponent(decodeURIComponent(contact[1])));
  return contactsPage();
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", () => { say(""); route(); });
route();
