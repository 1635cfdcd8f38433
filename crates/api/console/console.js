// Roster console: a page per hash route (#/contacts, #/contacts/{id}), built with the DOM
// (never from HTML strings, so no record text is ever parsed as markup). It calls the
// ChatCaptain API of the workspace it works in and /console/api for the rest (who the
// credential is, a contact's whole record, keys, webhooks, merges, import and export).
// The credential (a workspace's key, or the admin token, which works in the workspace
// chosen on the Workspaces page) stays in this tab's sessionStorage, sent only in headers.

const KEY = "roster.console.key";
const WORKSPACE = "roster.console.workspace";
const PAGE_SIZE = 20;
/** The deepest result a search pages to (ChatCaptain's page × pageSize limit). */
const SEARCH_DEPTH = 10000;

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

/** Shows a page and moves the focus to its heading, so keyboard and screen reader users
 * start at the top of what changed (a page with a search box focuses that instead). */
function show(...nodes) {
  main.replaceChildren(...nodes);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
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

function bearer() {
  return { authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
}

/** The headers of a console API request: the admin token says which workspace it is in. */
function credentials() {
  return session?.admin && session.workspace
    ? { ...bearer(), "x-roster-workspace": String(session.workspace.id) }
    : bearer();
}

/** The ChatCaptain API of the workspace worked in (the key's own, or the admin's choice:
 * the admin token is accepted there as a bearer token). */
function chatcaptain(method, path, body) {
  const headers = session.admin ? bearer() : { "x-chatcaptain-key": sessionStorage.getItem(KEY) };
  return call(method, `/v1/chatbots/${session.workspace.id}${path}`, body, headers);
}

/** The console's own API, for the workspace worked in. */
function consoleApi(method, path, body) {
  return call(method, `/console/api${path}`, body, credentials());
}

/** Runs requests so that only the newest one's answer is used: the answer of one that a
 * later request overtook resolves to null, and so does a failure (after saying why). */
function newestOnly() {
  let turn = 0;
  return async (request) => {
    const mine = ++turn;
    try {
      const answer = await request;
      return mine === turn ? answer : null;
    } catch (err) {
      if (mine === turn) trouble(err);
      return null;
    }
  };
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
    session = await consoleApi("GET", "/session");
  } catch (err) {
    sessionStorage.removeItem(KEY);
    session = null;
    throw err;
  }
  if (session.admin) {
    try { session.workspace = JSON.parse(sessionStorage.getItem(WORKSPACE)); } catch { session.workspace = null; }
  }
  updateNav();
}

/** Shows the links that work: a key's workspace pages (those its permissions allow), and
 * for the admin the workspaces, and the pages of the workspace it chose. */
function updateNav() {
  const nav = document.getElementById("nav");
  nav.hidden = !session;
  document.getElementById("sign-out").hidden = !session;
  document.getElementById("who").textContent = !session ? ""
    : session.admin ? `Administrator${session.workspace ? ` · in ${session.workspace.name}` : " (every workspace)"}`
    : `${session.workspace.name} · ${session.key.name}`;
  if (!session) return;
  for (const link of nav.querySelectorAll("[data-for]")) {
    // The admin sees a workspace's links before choosing one: they ask which first.
    link.hidden = link.dataset.for === "admin"
      ? !session.admin
      : (!session.workspace && !session.admin) || Boolean(link.dataset.permission && !may(link.dataset.permission));
  }
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(WORKSPACE);
  session = null;
  updateNav();
  // Without a hashchange, whose handler would clear the message before it is read.
  history.replaceState(null, "", location.pathname);
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
        ? "Roster does not know this token: use a workspace's API key (rk_…), or the server's admin token."
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

// --- searching a kind of record -----------------------------------------------------

/** The facets each kind's results can be narrowed by (the search's query parameters). */
const FILTERS = { contacts: ["organization", "language", "country", "channel"], organizations: ["industry", "country"] };

/** A search page: `kind` is "contacts" or "organizations" (the ChatCaptain path and the
 * console route), `hitItem` renders one hit. */
function searchPage(kind, title, noun, hitItem) {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const box = el("input", { id: "search", type: "search", value: params.get("q") ?? "", autocomplete: "off" });
  const summary = el("p", { class: "summary", "aria-live": "polite" });
  const results = el("ul", { class: "results" });
  const pager = el("div", { class: "pager" });
  const depthNote = el("p", { class: "muted", hidden: true },
    `Paging reaches the first ${SEARCH_DEPTH.toLocaleString()}: narrow the search with more words or a filter${kind === "contacts" ? ", or export them all from Import" : ""}.`);
  const chips = el("div", { class: "chips", role: "group", "aria-label": "Filters" });
  const chosen = new Map();
  const newest = newestOnly();
  let page = Number(params.get("page") ?? 1) || 1;

  function renderChips(facetCounts) {
    chips.replaceChildren(...FILTERS[kind].flatMap((field) => {
      const facet = facetCounts.find((f) => f.fieldName === field);
      const values = facet ? facet.counts : [];
      if (!values.length && !chosen.has(field)) return [];
      return [el("span", { class: "chip-group" },
        el("span", { class: "muted" }, `${field}:`),
        values.map(({ value, count }) => {
          const on = chosen.get(field) === value;
          return el("button", { type: "button", class: "chip", "aria-pressed": on ? "true" : "false", onclick: () => {
            if (on) chosen.delete(field); else chosen.set(field, value);
            page = 1;
            search();
          } }, `${value} (${count})`);
        }),
      )];
    }));
  }

  async function search() {
    const narrowed = [...chosen].map(([field, value]) => `&${field}=${encodeURIComponent(value)}`).join("");
    const answer = await newest(searching(kind, box.value, page, PAGE_SIZE, narrowed));
    if (!answer) return;
    const found = answer.results.found;
    summary.textContent = `${found} ${found === 1 ? noun : `${noun}s`} found`;
    results.replaceChildren(...answer.results.hits.map(hitItem));
    renderChips(answer.results.facetCounts ?? []);
    const pages = Math.max(1, Math.ceil(Math.min(found, SEARCH_DEPTH) / PAGE_SIZE));
    depthNote.hidden = found <= SEARCH_DEPTH;
    pager.replaceChildren(
      el("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => { page -= 1; search(); } }, "Previous"),
      el("span", {}, `Page ${page} of ${pages}`),
      el("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => { page += 1; search(); } }, "Next"),
    );
  }

  box.addEventListener("input", () => { page = 1; search(); });
  show(
    el("h1", {}, title),
    el("div", { class: "search" }, el("label", { for: "search" }, `Search ${kind}`), box),
    chips, summary, results, pager, depthNote,
  );
  box.focus();
  search();
}

/** The ChatCaptain search of `kind` for what is typed (everything, newest first, when
 * nothing is), `extra` being further query parameters. */
function searching(kind, typed, page, pageSize, extra = "") {
  const query = encodeURIComponent(typed.trim() || "*");
  return chatcaptain("GET", `/${kind}/search?query=${query}&page=${page}&pageSize=${pageSize}${extra}`);
}

/** A hit: a link named by the record's name (its matched words marked), then the other
 * fields that matched, or `fallback` when none did. */
function hitLink(href, name, highlights, fallback) {
  const byName = highlights.find((highlight) => highlight.field === "name");
  const others = highlights.filter((highlight) => highlight.field !== "name");
  return el("li", {},
    el("a", { href }, byName ? snippet(byName.snippet) : name),
    others.map((highlight) => el("span", { class: "snippet" }, `${highlight.field}: `, snippet(highlight.snippet))),
    !others.length && fallback ? el("span", { class: "snippet" }, fallback) : null,
  );
}

const contactHit = (hit) => hitLink(`#/contacts/${hit.contact.id}`, hit.contact.name, hit.highlights, hit.contact.email);
const organizationHit = (hit) =>
  hitLink(`#/organizations/${hit.organization.id}`, hit.organization.name, hit.highlights, hit.organization.industry);

// --- one record: its form, save and delete ------------------------------------------

/**
 * The form of one record. `fields` are [label, input type, ChatCaptain field]; `save`
 * sends a patch of what changed and answers the record as stored; `remove` deletes it.
 * A 400 that names a field ("contact.email: …") is shown at that field.
 */
function recordForm({ record, fields, editable, deletable, noun, save, remove, saved: onSaved }) {
  const inputs = {};
  const errors = {};
  const rows = fields.map(([label, type, name]) => {
    const id = `field-${name}`;
    errors[name] = el("p", { id: `${id}-error`, class: "error" });
    inputs[name] = el("input", { id, type, value: record[name] ?? "", readonly: !editable, "aria-describedby": `${id}-error` });
    return el("div", { class: "field" }, el("label", { for: id }, label), inputs[name], errors[name]);
  });
  const status = el("p", { class: "muted", "aria-live": "polite" });

  async function submit(event) {
    event.preventDefault();
    status.textContent = "";
    for (const name of Object.keys(inputs)) {
      errors[name].textContent = "";
      inputs[name].removeAttribute("aria-invalid");
    }
    const patch = {};
    for (const [, , name] of fields) {
      const value = inputs[name].value.trim();
      if (value !== String(record[name] ?? "")) patch[name] = value === "" ? null : value;
    }
    if (!Object.keys(patch).length) { status.textContent = "Nothing changed."; return; }
    try {
      record = await save(patch);
      await onSaved(record);
      status.textContent = "Saved.";
    } catch (err) {
      const named = err instanceof ApiError && err.status === 400 ? err.message.split(":")[0] : "";
      const field = named.replace(/^(contact|organization)\./, "");
      if (inputs[field]) {
        errors[field].textContent = err.message.slice(named.length + 1).trim();
        inputs[field].setAttribute("aria-invalid", "true");
        inputs[field].focus();
      } else if (err instanceof ApiError && err.status === 409) {
        status.textContent = err.message;
      } else {
        trouble(err);
      }
    }
  }

  const dialog = el("dialog", { id: "confirm", "aria-labelledby": "confirm-title" });
  const confirmDelete = () => confirmIn(dialog, {
    question: `Delete ${record.name}?`,
    explanation: `The ${noun} is deleted in every dialect. This cannot be undone.`,
    action: "Delete",
    confirmed: () => remove().catch(trouble),
  });
  // The server validates (and says why, at the field): no browser-side refusal first.
  const form = el("form", { onsubmit: submit, "aria-label": noun, novalidate: true },
    rows,
    editable || deletable ? el("div", { class: "actions" },
      editable ? el("button", { type: "submit" }, "Save") : null,
      deletable ? el("button", { type: "button", class: "danger", onclick: confirmDelete }, "Delete") : null,
    ) : el("p", { class: "muted" }, `This key may only read ${noun}s.`),
    status,
  );
  return [form, dialog];
}

function notFound(noun, back) {
  const title = `${noun[0].toUpperCase()}${noun.slice(1)} not found`;
  show(el("h1", {}, title), el("p", {}, `No ${noun} with this id in this workspace. `, el("a", { href: back }, "Back")));
}

/** Every field of a record, as a definition list. */
function fieldList(label) {
  const list = el("dl", { class: "record", "aria-label": label });
  list.render = (view) => list.replaceChildren(...Object.entries(view).flatMap(([name, value]) => [
    el("dt", {}, name),
    el("dd", {}, value === null ? "—" : typeof value === "object" ? JSON.stringify(value, null, 1) : String(value)),
  ]));
  return list;
}

// --- one contact --------------------------------------------------------------------

async function contactPage(id) {
  let record;
  let contact;
  let stages;
  let changes;
  try {
    [record, { contact }, stages] = await Promise.all([
      consoleApi("GET", `/contacts/${id}`),
      chatcaptain("GET", `/contacts/${id}`),
      consoleApi("GET", `/contacts/${id}/stage-history`),
    ]);
    changes = await consoleApi("GET", `/contacts/${id}/history`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound("contact", "#/contacts");
    return trouble(err);
  }
  const heading = el("h1", {}, contact.name);
  const details = fieldList("Every field");
  details.render(record);
  const [form, dialog] = recordForm({
    record: contact,
    noun: "contact",
    fields: [["Name", "text", "name"], ["Email", "email", "email"], ["Phone", "tel", "phoneNumber"]],
    editable: may("chatbots.contacts.edit"),
    deletable: may("chatbots.contacts.delete"),
    save: async (patch) => (await chatcaptain("PATCH", `/contacts/${id}`, { contact: patch })).contact,
    saved: async (saved) => {
      heading.textContent = saved.name;
      details.render(await consoleApi("GET", `/contacts/${id}`));
    },
    remove: async () => {
      await chatcaptain("DELETE", `/contacts/${id}`);
      location.hash = "#/contacts";
    },
  });
  const mergeLink = may("chatbots.contacts.merge")
    ? el("p", {}, el("a", { href: `#/merge/${id}` }, "Merge another contact into this one…"))
    : null;
  show(el("p", {}, el("a", { href: "#/contacts" }, "← Contacts")), heading, form, mergeLink, stageHistory(stages), changeHistory(changes), details, dialog);
}

/** Who changed what: the contact's latest changes, newest first. */
function changeHistory(entries) {
  const who = ({ by }) => by.type === "key" ? `key ${by.name}` : by.type;
  const value = (v) => v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v);
  return el("table", { class: "keys" },
    el("caption", {}, "History"),
    el("thead", {}, el("tr", {}, ["When", "Change", "By", "Fields (old → new)"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, entries.map((entry) => el("tr", {},
      el("td", {}, new Date(entry.at).toLocaleString()),
      el("td", {}, entry.event.replace(/^contact\./, "")),
      el("td", {}, `${who(entry)}${entry.via ? ` via ${entry.via}` : ""}`),
      el("td", {}, Object.entries(entry.changes).map(([field, { old, new: now }]) =>
        el("span", { class: "snippet" }, `${field}: ${value(old)} → ${value(now)}`))),
    ))),
  );
}

/** The contact's SalesChat stage moves, oldest first. */
function stageHistory(stages) {
  if (!stages.length) return el("p", { class: "muted" }, "No stage changes.");
  return el("table", { class: "keys" },
    el("caption", {}, "Stage history"),
    el("thead", {}, el("tr", {}, ["When", "From", "To", "Disposition", "By key"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, stages.map((change) => el("tr", {},
      el("td", {}, new Date(change.at).toLocaleString()),
      el("td", {}, change.from_stage ?? "—"),
      el("td", {}, change.to_stage),
      el("td", {}, change.disposition ?? "—"),
      el("td", {}, change.changed_by_key_id === null ? "—" : String(change.changed_by_key_id)),
    ))),
  );
}

// --- merging two contacts -----------------------------------------------------------

async function mergePage(baseId) {
  let base;
  try { ({ contact: base } = await chatcaptain("GET", `/contacts/${baseId}`)); } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound("contact", "#/contacts");
    return trouble(err);
  }
  const box = el("input", { id: "mergee-search", type: "search", autocomplete: "off" });
  const results = el("ul", { class: "results", "aria-label": "Candidates" });
  const preview = el("section", { "aria-live": "polite" });
  const newest = newestOnly();
  async function find() {
    const answer = await newest(searching("contacts", box.value, 1, 10, `&hiddenHits=${baseId}`));
    if (!answer) return;
    results.replaceChildren(...answer.results.hits.map(({ contact }) => el("li", {},
      el("span", {}, `${contact.name}${contact.email ? ` · ${contact.email}` : ""} `),
      el("button", { type: "button", class: "secondary", onclick: () => choose(contact) }, `Choose ${contact.name}`),
    )));
  }
  async function choose(mergee) {
    let after;
    const ids = { base_contact_id: Number(baseId), mergee_contact_id: Number(mergee.id) };
    try { after = await consoleApi("POST", "/merges/preview", ids); } catch (err) { return trouble(err); }
    const list = fieldList("After the merge");
    list.render(after.contact);
    const moves = fieldList(`What ${base.name} takes from ${mergee.name}`);
    moves.render(after.moves);
    const value = (v) => typeof v === "object" ? JSON.stringify(v) : String(v);
    const conflicts = after.conflicts.length
      ? el("ul", { "aria-label": "Conflicts" }, after.conflicts.map((conflict) =>
        el("li", {}, `${conflict.field}: keeps ${value(conflict.kept)}, drops ${value(conflict.dropped)}`)))
      : el("p", { class: "muted" }, "No conflicts: nothing of either is dropped.");
    preview.replaceChildren(
      el("h2", {}, `${mergee.name} merged into ${base.name}`),
      el("p", {}, `${base.name} keeps its values and takes ${mergee.name}'s where it has none; ${mergee.name} is deleted.`),
      el("h3", {}, "What moves"),
      Object.keys(after.moves).length ? moves : el("p", { class: "muted" }, "Nothing moves."),
      el("h3", {}, "Conflicts"),
      conflicts,
      el("h3", {}, "The result"),
      list,
      el("div", { class: "actions" },
        el("button", { type: "button", onclick: async () => {
          try { await consoleApi("POST", "/merges", ids); } catch (err) { return trouble(err); }
          location.hash = `#/contacts/${baseId}`;
        } }, "Merge"),
        el("button", { type: "button", class: "secondary", onclick: () => preview.replaceChildren() }, "Cancel"),
      ),
    );
  }
  box.addEventListener("input", find);
  show(
    el("p", {}, el("a", { href: `#/contacts/${baseId}` }, `← ${base.name}`)),
    el("h1", {}, `Merge into ${base.name}`),
    el("div", { class: "search" }, el("label", { for: "mergee-search" }, "Find the contact to merge in"), box),
    results,
    preview,
  );
  box.focus();
  find();
}

// --- one organization ---------------------------------------------------------------

async function organizationPage(id) {
  let organization;
  let count = null;
  try {
    ({ organization } = await chatcaptain("GET", `/organizations/${id}`));
    if (may("chatbots.organizations.contacts.list")) {
      ({ count } = await chatcaptain("GET", `/organizations/${id}/contacts/count`));
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound("organization", "#/organizations");
    return trouble(err);
  }
  const heading = el("h1", {}, organization.name);
  const details = fieldList("Every field");
  details.render(organization);
  const [form, dialog] = recordForm({
    record: organization,
    noun: "organization",
    fields: [
      ["Name", "text", "name"], ["Email", "email", "email"], ["Website", "url", "website"],
      ["Industry", "text", "industry"], ["Phone", "tel", "phoneNumber"],
    ],
    editable: may("chatbots.organizations.edit"),
    deletable: may("chatbots.organizations.delete"),
    save: async (patch) => (await chatcaptain("PATCH", `/organizations/${id}`, { organization: patch })).organization,
    saved: async (saved) => {
      heading.textContent = saved.name;
      details.render(saved);
    },
    remove: async () => {
      await chatcaptain("DELETE", `/organizations/${id}`);
      location.hash = "#/organizations";
    },
  });
  const members = el("ul", { class: "results", "aria-label": "Members" });
  const more = el("button", { type: "button", class: "secondary", hidden: true }, "More members");
  let after = null;
  async function nextMembers() {
    const token = after ? `&pageToken=${encodeURIComponent(after)}` : "";
    try {
      const { contacts } = await chatcaptain("GET", `/organizations/${id}/contacts?limit=${PAGE_SIZE}${token}`);
      members.append(...contacts.map((contact) =>
        el("li", {}, el("a", { href: `#/contacts/${contact.id}` }, contact.name))));
      after = contacts.length ? contacts[contacts.length - 1].created : after;
      more.hidden = contacts.length < PAGE_SIZE;
    } catch (err) {
      trouble(err);
    }
  }
  more.addEventListener("click", nextMembers);
  const memberSection = count === null ? [] : [
    el("h2", {}, `Members (${count})`),
    members,
    more,
  ];
  show(el("p", {}, el("a", { href: "#/organizations" }, "← Organizations")), heading, form, ...memberSection, details, dialog);
  if (count !== null) nextMembers();
}

// --- keys ---------------------------------------------------------------------------

/** A secret shown once (a new key's, a webhook's), with a button that copies it. */
function secretShown(box, label, secret) {
  const field = el("input", { id: "new-secret", type: "text", readonly: true, value: secret });
  const copied = el("span", { class: "muted", "aria-live": "polite" });
  box.replaceChildren(
    el("label", { for: "new-secret" }, label),
    field,
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: async () => {
        try { await navigator.clipboard.writeText(secret); copied.textContent = "Copied."; }
        catch { field.select(); copied.textContent = "Select and copy it (Ctrl+C)."; }
      } }, "Copy"),
      copied,
    ),
  );
}

/** A confirmation `dialog` asking `question`; `confirmed` runs on its `action` button. */
function confirmIn(dialog, { question, explanation, action, confirmed }) {
  dialog.replaceChildren(
    el("h2", { id: `${dialog.id}-title` }, question),
    el("p", {}, explanation),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"),
      el("button", { type: "button", class: "danger", onclick: () => { dialog.close(); confirmed(); } }, action),
    ),
  );
  dialog.showModal();
}

/** The keys of the workspace worked in. */
async function keysPage() {
  if (!may("chatbots.keys.manage")) {
    return show(el("h1", {}, "Keys"), el("p", {}, "This key may not manage keys."));
  }
  const list = el("table", { class: "keys" });
  const secretBox = el("div", { class: "secret", "aria-live": "polite" });
  async function refresh() {
    let keys;
    try { keys = await consoleApi("GET", "/keys"); } catch (err) { return trouble(err); }
    list.replaceChildren(
      el("caption", {}, "The workspace's keys"),
      el("thead", {}, el("tr", {}, ["Name", "Permissions", "Created", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, keys.map((key) => el("tr", {},
        el("td", {}, key.name),
        el("td", {}, key.permissions.join(", ")),
        el("td", {}, new Date(key.created).toLocaleString()),
        el("td", {}, key.revoked
          ? `revoked ${new Date(key.revoked).toLocaleString()}`
          : el("button", { type: "button", class: "danger", "aria-label": `Revoke ${key.name}`, onclick: () => confirmRevoke(key) }, "Revoke")),
      ))),
    );
  }
  const dialog = el("dialog", { id: "revoke", "aria-labelledby": "revoke-title" });
  function confirmRevoke(key) {
    confirmIn(dialog, {
      question: `Revoke ${key.name}?`,
      explanation: "Every request with this key is refused from now on. This cannot be undone.",
      action: "Revoke",
      confirmed: async () => {
        try { await consoleApi("DELETE", `/keys/${key.id}`); } catch (err) { return trouble(err); }
        if (key.id === session.key?.id) return signOut("This key was revoked: sign in with another.");
        refresh();
      },
    });
  }
  const name = el("input", { id: "key-name", type: "text", autocomplete: "off", "aria-describedby": "key-name-error" });
  const nameError = el("p", { id: "key-name-error", class: "error" });
  const boxes = session.permissions
    // A key may not hand out key management; the admin may.
    .filter((permission) => session.admin || permission !== "chatbots.keys.manage")
    .map((permission) => el("label", { class: "check" }, el("input", { type: "checkbox", value: permission, checked: true }), ` ${permission}`));
  const permissionsError = el("p", { class: "error" });
  const form = el("form", { "aria-label": "New key", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    nameError.textContent = permissionsError.textContent = "";
    secretBox.replaceChildren();
    const permissions = boxes.map((box) => box.firstChild).filter((box) => box.checked).map((box) => box.value);
    try {
      const issued = await consoleApi("POST", "/keys", { name: name.value.trim(), permissions });
      secretShown(secretBox, `The secret of ${issued.name}, shown only now`, issued.key);
      name.value = "";
      refresh();
    } catch (err) {
      const field = err instanceof ApiError && err.status === 400 ? err.message.split(":")[0] : "";
      if (field === "name") nameError.textContent = err.message.slice(5).trim();
      else if (field === "permissions") permissionsError.textContent = err.message.slice(12).trim();
      else trouble(err);
    }
  } },
    el("h2", {}, "New key"),
    el("div", { class: "field" }, el("label", { for: "key-name" }, "Key name"), name, nameError),
    el("fieldset", {}, el("legend", {}, "Permissions"), boxes, permissionsError),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Create key")),
  );
  show(el("h1", {}, `Keys of ${session.workspace.name}`), form, secretBox, list, dialog);
  refresh();
}

// --- webhooks -----------------------------------------------------------------------

/** The workspace's webhook endpoints: add one (its signing secret shown once), see each
 * one's latest deliveries and send one again, pause, rotate the secret, delete. */
async function webhooksPage() {
  if (!may("chatbots.webhooks.manage")) {
    return show(el("h1", {}, "Webhooks"), el("p", {}, "This key may not manage webhooks."));
  }
  const list = el("table", { class: "keys" });
  const secretBox = el("div", { class: "secret", "aria-live": "polite" });
  const deliveries = el("section", { "aria-live": "polite" });
  const dialog = el("dialog", { id: "webhook-confirm", "aria-labelledby": "webhook-confirm-title" });

  async function refresh() {
    let webhooks;
    try { webhooks = await consoleApi("GET", "/webhooks"); } catch (err) { return trouble(err); }
    list.replaceChildren(
      el("caption", {}, webhooks.length ? "The workspace's webhooks" : "No webhooks yet"),
      el("thead", {}, el("tr", {}, ["URL", "Format", "Events", "State", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, webhooks.map((webhook) => el("tr", {},
        el("td", {}, webhook.url, webhook.description ? el("span", { class: "snippet" }, webhook.description) : null),
        el("td", {}, webhook.format),
        el("td", {}, webhook.events.join(", ")),
        el("td", {}, webhook.enabled ? "enabled" : `paused${webhook.disabled_reason ? `: ${webhook.disabled_reason}` : ""}`),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "secondary", "aria-label": `Deliveries of ${webhook.url}`, onclick: () => showDeliveries(webhook) }, "Deliveries"),
          el("button", { type: "button", class: "secondary", "aria-label": `${webhook.enabled ? "Pause" : "Resume"} ${webhook.url}`, onclick: async () => {
            try { await consoleApi("PATCH", `/webhooks/${webhook.id}`, { enabled: !webhook.enabled }); } catch (err) { return trouble(err); }
            refresh();
          } }, webhook.enabled ? "Pause" : "Resume"),
          el("button", { type: "button", class: "secondary", "aria-label": `Rotate the secret of ${webhook.url}`, onclick: () => confirmIn(dialog, {
            question: `A new secret for ${webhook.url}?`,
            explanation: "Deliveries are signed with the new secret at once; the receiver must be given it.",
            action: "Rotate",
            confirmed: async () => {
              let rotated;
              try { rotated = await consoleApi("POST", `/webhooks/${webhook.id}/rotate-secret`); } catch (err) { return trouble(err); }
              secretShown(secretBox, `The new secret of ${webhook.url}, shown only now`, rotated.secret);
            },
          }) }, "Rotate secret"),
          el("button", { type: "button", class: "danger", "aria-label": `Delete ${webhook.url}`, onclick: () => confirmIn(dialog, {
            question: `Delete the webhook to ${webhook.url}?`,
            explanation: "Nothing more is sent to it, pending deliveries included. This cannot be undone.",
            action: "Delete",
            confirmed: async () => {
              try { await consoleApi("DELETE", `/webhooks/${webhook.id}`); } catch (err) { return trouble(err); }
              deliveries.replaceChildren();
              refresh();
            },
          }) }, "Delete"),
        ),
      ))),
    );
  }

  async function showDeliveries(webhook) {
    let attempts;
    try { attempts = await consoleApi("GET", `/webhooks/${webhook.id}/deliveries?limit=50`); } catch (err) { return trouble(err); }
    deliveries.replaceChildren(
      el("h2", {}, `Deliveries to ${webhook.url}`),
      attempts.length ? el("table", { class: "keys" },
        el("caption", {}, "The latest attempts, newest first"),
        el("thead", {}, el("tr", {}, ["When", "Event", "Attempt", "Outcome", "Next try", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, attempts.map((attempt) => el("tr", {},
          el("td", {}, new Date(attempt.at).toLocaleString()),
          el("td", {}, attempt.event_type),
          el("td", {}, String(attempt.attempt)),
          el("td", {}, attempt.status ? `HTTP ${attempt.status}` : "", attempt.error ? ` ${attempt.error}` : ""),
          el("td", {}, attempt.next_retry ? new Date(attempt.next_retry).toLocaleString() : "—"),
          el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": `Send ${attempt.event_type} again`, onclick: async () => {
            try { await consoleApi("POST", `/webhooks/${webhook.id}/deliveries/${encodeURIComponent(attempt.event_id)}/redeliver`); } catch (err) { return trouble(err); }
            say("");
            showDeliveries(webhook);
          } }, "Send again")),
        ))),
      ) : el("p", { class: "muted" }, "Nothing was sent to it yet."),
    );
  }

  const url = el("input", { id: "webhook-url", type: "url", autocomplete: "off", "aria-describedby": "webhook-url-error" });
  const events = el("input", { id: "webhook-events", type: "text", autocomplete: "off", placeholder: "every event", "aria-describedby": "webhook-events-error" });
  const format = el("select", { id: "webhook-format" },
    el("option", { value: "roster" }, "Roster (Standard Webhooks)"),
    el("option", { value: "saleschat" }, "SalesChat"),
  );
  const description = el("input", { id: "webhook-description", type: "text", autocomplete: "off", "aria-describedby": "webhook-description-error" });
  const fields = { url, events, description };
  const errors = Object.fromEntries(Object.keys(fields).map((name) => [name, el("p", { id: `webhook-${name}-error`, class: "error" })]));
  const form = el("form", { "aria-label": "New webhook", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    for (const name of Object.keys(fields)) {
      errors[name].textContent = "";
      fields[name].removeAttribute("aria-invalid");
    }
    secretBox.replaceChildren();
    const named = events.value.split(",").map((name) => name.trim()).filter(Boolean);
    const body = { url: url.value.trim(), format: format.value };
    if (named.length) body.events = named;
    if (description.value.trim()) body.description = description.value.trim();
    try {
      const created = await consoleApi("POST", "/webhooks", body);
      secretShown(secretBox, `The signing secret of ${created.url}, shown only now`, created.secret);
      url.value = events.value = description.value = "";
      refresh();
    } catch (err) {
      const field = err instanceof ApiError && err.status === 400 ? err.message.split(":")[0] : "";
      if (!fields[field]) return trouble(err);
      errors[field].textContent = err.message.slice(field.length + 1).trim();
      fields[field].setAttribute("aria-invalid", "true");
      fields[field].focus();
    }
  } },
    el("h2", {}, "New webhook"),
    el("div", { class: "field" }, el("label", { for: "webhook-url" }, "Webhook URL"), url, errors.url),
    el("div", { class: "field" }, el("label", { for: "webhook-format" }, "Format"), format),
    el("div", { class: "field" }, el("label", { for: "webhook-events" }, "Events (comma-separated, e.g. contact.created)"), events, errors.events),
    el("div", { class: "field" }, el("label", { for: "webhook-description" }, "Description"), description, errors.description),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Add webhook")),
  );
  show(el("h1", {}, "Webhooks"), form, secretBox, list, deliveries, dialog);
  refresh();
}

// --- workspaces (the admin token) ---------------------------------------------------

function admin(method, path, body) {
  return call(method, `/admin/v1${path}`, body, bearer());
}

/** Every workspace, and a new one. `wanted` is the page the admin asked for before
 * choosing a workspace: opening one goes there. */
async function workspacesPage(wanted = null) {
  const table = el("table", { class: "keys" });
  async function refresh() {
    let workspaces;
    try { workspaces = await admin("GET", "/workspaces"); } catch (err) { return trouble(err); }
    table.replaceChildren(
      el("caption", {}, `${workspaces.length} workspaces`),
      el("thead", {}, el("tr", {}, ["Id", "Name", "Created"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, workspaces.map((w) => el("tr", {},
        el("td", {}, String(w.id)),
        el("td", {}, el("a", { href: `#/workspaces/${w.id}${wanted ? `?then=${encodeURIComponent(wanted)}` : ""}` }, w.name)),
        el("td", {}, new Date(w.created).toLocaleString()),
      ))),
    );
  }
  const name = el("input", { id: "workspace-name", type: "text", autocomplete: "off", "aria-describedby": "workspace-name-error" });
  const nameError = el("p", { id: "workspace-name-error", class: "error" });
  const form = el("form", { "aria-label": "New workspace", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    nameError.textContent = "";
    name.removeAttribute("aria-invalid");
    try {
      await admin("POST", "/workspaces", { name: name.value.trim() });
      name.value = "";
      refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) {
        nameError.textContent = err.message.replace(/^name: /, "");
        name.setAttribute("aria-invalid", "true");
      } else {
        trouble(err);
      }
    }
  } },
    el("h2", {}, "New workspace"),
    el("div", { class: "field" }, el("label", { for: "workspace-name" }, "Workspace name"), name, nameError),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Create workspace")),
  );
  show(
    el("h1", {}, "Workspaces"),
    wanted
      ? el("p", { role: "status" }, "Choose the workspace to work in.")
      : el("p", { class: "muted" }, "Open a workspace to work in it: its contacts, organizations, import, keys and webhooks."),
    form, table,
  );
  refresh();
}

/** `#/workspaces/{id}`: the admin works in this workspace from now on (in this tab), on
 * the page its `?then=` names (its contacts unless another was asked for). */
async function openWorkspace(id) {
  let workspace;
  try { workspace = await admin("GET", `/workspaces/${id}`); } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound("workspace", "#/workspaces");
    return trouble(err);
  }
  session.workspace = { id: workspace.id, name: workspace.name };
  sessionStorage.setItem(WORKSPACE, JSON.stringify(session.workspace));
  updateNav();
  const page = new URLSearchParams(location.hash.split("?")[1] ?? "").get("then");
  location.replace(`#${/^\/(contacts|organizations|import|keys|webhooks)$/.test(page ?? "") ? page : "/contacts"}`);
}


// --- import and export --------------------------------------------------------------

/** Rows shown on the page; the downloadable report holds every one. */
const ROWS_SHOWN = 500;

function csvCell(value) {
  const text = String(value ?? "");
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function download(name, blob) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function importPage() {
  const canImport = may("chatbots.contacts.create") && may("chatbots.contacts.edit");
  const file = el("input", { id: "csv-file", type: "file", accept: ".csv,text/csv", "aria-describedby": "csv-error" });
  const fileError = el("p", { id: "csv-error", class: "error" });
  const progress = el("progress", { hidden: true, "aria-label": "Import progress" });
  const status = el("p", { class: "summary", "aria-live": "polite" });
  const table = el("table", { class: "keys", hidden: true });
  const downloads = el("div", { class: "actions" });

  async function run(event) {
    event.preventDefault();
    fileError.textContent = "";
    const chosen = file.files[0];
    if (!chosen) { fileError.textContent = "Choose a CSV file first."; file.focus(); return; }
    const reports = [];
    let summary = null;
    let stopped = null;
    progress.hidden = false;
    progress.removeAttribute("value");
    status.textContent = "Importing…";
    downloads.replaceChildren();
    table.hidden = true;
    try {
      const response = await fetch("/console/api/imports", {
        method: "POST",
        headers: { ...credentials(), "content-type": "text/csv" },
        body: chosen,
        credentials: "omit",
      });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError(response.status, body, response.headers.get("retry-after"));
      }
      // The report streams: a JSON line per row as each batch commits, then the summary.
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        pending += value ?? "";
        const lines = pending.split("\n");
        pending = done ? "" : lines.pop();
        for (const line of lines.filter(Boolean)) {
          const report = JSON.parse(line);
          if (report.summary) summary = report.summary;
          else if (report.error) stopped = report.error;
          else reports.push(report);
        }
        status.textContent = `${reports.length} rows done…`;
        if (done) break;
      }
    } catch (err) {
      progress.hidden = true;
      status.textContent = "";
      if (err instanceof ApiError && err.status === 400) { fileError.textContent = err.message; return; }
      return trouble(err);
    }
    progress.hidden = true;
    status.textContent = summary
      ? `${summary.rows} rows: ${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.rejected} rejected.`
      : `Stopped after ${reports.length} rows: ${stopped}`;
    const shown = [...reports.filter((r) => r.outcome === "rejected"), ...reports.filter((r) => r.outcome !== "rejected")]
      .slice(0, ROWS_SHOWN);
    table.replaceChildren(
      el("caption", {}, reports.length > ROWS_SHOWN ? `The first ${ROWS_SHOWN} rows (rejected first); the report has all` : "Every row (rejected first)"),
      el("thead", {}, el("tr", {}, ["Line", "Outcome", "Contact or reason"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, shown.map((r) => el("tr", {},
        el("td", {}, String(r.line)),
        el("td", {}, r.outcome),
        el("td", {}, r.outcome === "rejected" ? r.reason : el("a", { href: `#/contacts/${r.id}` }, `contact ${r.id}`)),
      ))),
    );
    table.hidden = false;
    const asCsv = (rows) => new Blob(
      [["line,outcome,contact_id,reason", ...rows.map((r) => [r.line, r.outcome, r.id, r.reason].map(csvCell).join(","))].join("\n") + "\n"],
      { type: "text/csv" },
    );
    const rejected = reports.filter((r) => r.outcome === "rejected");
    downloads.replaceChildren(
      el("button", { type: "button", class: "secondary", onclick: () => download("import-report.csv", asCsv(reports)) }, "Download the report (CSV)"),
      rejected.length ? el("button", { type: "button", class: "secondary", onclick: () => download("rejected-rows.csv", asCsv(rejected)) }, "Download rejected rows (CSV)") : null,
    );
  }

  async function exportAll(kind) {
    try {
      const response = await fetch(`/console/api/exports/${kind}`, {
        headers: credentials(),
        credentials: "omit",
      });
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null), response.headers.get("retry-after"));
      download(`${kind}-${session.workspace.id}.csv`, await response.blob());
    } catch (err) {
      trouble(err);
    }
  }

  show(
    el("h1", {}, "Import"),
    canImport
      ? el("form", { onsubmit: run, "aria-label": "Import" },
        el("div", { class: "field" }, el("label", { for: "csv-file" }, "CSV file"), file, fileError),
        el("p", { class: "muted" }, "Rows update the contact they match (by external id, then email, then phone) or create one; a bad row is rejected with its reason and the others go on."),
        el("button", { type: "submit" }, "Import"),
      )
      : el("p", { class: "muted" }, "This key may not import contacts."),
    progress, status, table, downloads,
    el("h2", {}, "Export"),
    el("div", { class: "actions" },
      may("chatbots.contacts.list") ? el("button", { type: "button", class: "secondary", onclick: () => exportAll("contacts") }, "Export contacts (CSV)") : null,
      may("chatbots.organizations.list") ? el("button", { type: "button", class: "secondary", onclick: () => exportAll("organizations") }, "Export organizations (CSV)") : null,
    ),
  );
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
  if (session.admin) {
    const workspace = path.match(/^\/workspaces\/([^/]+)$/);
    if (workspace) return openWorkspace(encodeURIComponent(decodeURIComponent(workspace[1])));
    if (path === "/workspaces") return workspacesPage();
    if (!session.workspace) return workspacesPage(path);
  }
  if (path === "/keys") return keysPage();
  if (path === "/webhooks") return webhooksPage();
  if (path === "/import") return importPage();
  const merge = path.match(/^\/merge\/([^/]+)$/);
  if (merge) return mergePage(encodeURIComponent(decodeURIComponent(merge[1])));
  const [, kind, id] = path.match(/^\/(contacts|organizations)(?:\/([^/]+))?$/) ?? [];
  const safeId = id && encodeURIComponent(decodeURIComponent(id));
  if (kind === "organizations") {
    return safeId ? organizationPage(safeId) : searchPage("organizations", "Organizations", "organization", organizationHit);
  }
  return safeId ? contactPage(safeId) : searchPage("contacts", "Contacts", "contact", contactHit);
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", () => { say(""); route(); });
route();
