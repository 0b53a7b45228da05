// The Jabber settings page: sign in, create a username if there is none,
// then see what to type into each client.
"use strict";

const $ = (id) => document.getElementById(id);
let checkTimer = null;
let lastChecked = "";

function show(element, visible) {
  element.hidden = !visible;
}

async function api(path, options) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  const body = response.status === 204 ? {} : await response.json();
  return { ok: response.ok, status: response.status, body };
}

function render(settings) {
  show($("signin"), false);
  show($("account"), true);
  $("who").textContent = settings.operator.name;
  $("who-email").textContent = "(" + settings.operator.email + ", portal " + settings.operator.portal + ")";
  $("rule").textContent = "Rule: " + settings.username_rule + ".";
  const jabber = settings.jabber;
  show($("claim"), !jabber);
  show($("settings"), !!jabber);
  if (!jabber) {
    $("username").focus();
    return;
  }
  $("jid").textContent = jabber.jid;
  $("host").textContent = jabber.host;
  $("starttls-port").textContent = jabber.starttls_port;
  $("direct-port").textContent = jabber.direct_tls_port;
  $("fingerprint").textContent = jabber.fingerprint;
  const clients = $("clients");
  clients.replaceChildren();
  for (const guide of jabber.clients) {
    const section = document.createElement("section");
    section.className = "client";
    const title = document.createElement("h3");
    title.textContent = guide.client + " (" + guide.platform + ")";
    const table = document.createElement("table");
    for (const [label, value] of guide.fields) {
      const row = table.insertRow();
      const head = document.createElement("th");
      head.textContent = label;
      const cell = row.insertCell();
      const code = document.createElement("code");
      code.textContent = value;
      cell.append(code);
      row.prepend(head);
    }
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = guide.note;
    section.append(title, table, note);
    clients.append(section);
  }
}

function showSignIn() {
  show($("signin"), true);
  show($("account"), false);
  show($("claim"), false);
  show($("settings"), false);
}

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  show($("signin-error"), false);
  const { ok, body } = await api("/api/signin", {
    method: "POST",
    body: JSON.stringify({
      portal: $("portal").value.trim(),
      email: $("email").value.trim(),
      password: $("password").value,
    }),
  });
  $("password").value = "";
  if (ok) {
    render(body);
  } else {
    $("signin-error").textContent = body.error;
    show($("signin-error"), true);
  }
});

$("signout").addEventListener("click", async () => {
  await api("/api/signout", { method: "POST" });
  showSignIn();
});

function setAvailability(available, message) {
  const line = $("availability");
  line.textContent = message;
  line.className = available ? "available" : "unavailable";
  $("claim-button").disabled = !available;
}

async function check() {
  const name = $("username").value.trim();
  lastChecked = name;
  if (!name) {
    $("availability").textContent = "";
    $("claim-button").disabled = true;
    return;
  }
  const { ok, body } = await api("/api/username?name=" + encodeURIComponent(name));
  if (name !== lastChecked) return; // an older answer
  if (ok) {
    setAvailability(body.available, body.message);
  } else {
    setAvailability(false, body.error);
  }
}

$("username").addEventListener("input", () => {
  $("claim-button").disabled = true;
  show($("claim-error"), false);
  clearTimeout(checkTimer);
  checkTimer = setTimeout(check, 250);
});

$("claim-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { ok, body } = await api("/api/username", {
    method: "POST",
    body: JSON.stringify({ username: $("username").value.trim() }),
  });
  if (ok) {
    render(body);
  } else {
    $("claim-error").textContent = body.error;
    show($("claim-error"), true);
    setAvailability(false, body.error);
  }
});

(async () => {
  const { ok, body } = await api("/api/settings");
  if (ok) {
    render(body);
  } else {
    const params = new URLSearchParams(location.search);
    let portal = params.get("portal");
    if (!portal) {
      // The server's default portal.
      const answer = await api("/api/portal");
      portal = answer.ok ? answer.body.portal : "";
    }
    $("portal").value = portal;
    showSignIn();
  }
})();
