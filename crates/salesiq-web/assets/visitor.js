// The visitor page: a form, then a live chat over /ws/visitor.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let portal = params.get("portal") || "";
let socket = null;
let ended = false;
// The chat in progress, kept in sessionStorage so that a reload or a
// link to another page of the site takes it up again (the resume token,
// the last content frame's seq, and the lines shown).
const STORED = "salesiq-chat";
let chat = null;
let retry = 0;
let operator = "The operator";
let typingTimer = null;
let composing = false;

function show(element, visible) {
  element.hidden = !visible;
}

function save() {
  if (chat) sessionStorage.setItem(STORED, JSON.stringify(chat));
  else sessionStorage.removeItem(STORED);
}

function addLine(kind, author, text, keep = true) {
  if (keep && chat) {
    chat.lines.push([kind, author, text]);
    save();
  }
  const item = document.createElement("li");
  item.className = kind;
  if (author) {
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = author;
    item.append(who);
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(body);
  $("messages").append(item);
  item.scrollIntoView({ block: "nearest" });
}

function setStatus(text) {
  $("status").textContent = text;
}

async function loadPortal() {
  const query = portal ? "?portal=" + encodeURIComponent(portal) : "";
  const response = await fetch("/api/portal" + query);
  const body = await response.json();
  if (!response.ok) {
    $("form-error").textContent = body.error || "This chat is not available.";
    show($("form-error"), true);
    $("start").disabled = true;
    return;
  }
  portal = body.portal;
  $("portal-name").textContent = "Portal: " + portal;
  for (const name of body.departments) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    $("department").append(option);
  }
}

function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(frame));
  }
}

function endChat(reason) {
  if (ended) return;
  ended = true;
  chat = null;
  save();
  setStatus("The chat has ended.");
  $("ended-reason").textContent = reason;
  show($("typing"), false);
  show($("compose"), false);
  show($("leave"), false);
  show($("ended"), true);
  // The socket stays open a while (the server closes it): for a rating
  // and a transcript.
  show($("rate-form"), true);
  show($("rated"), false);
}

function onFrame(frame) {
  if (typeof frame.seq === "number" && chat) {
    // Content frames count 1, 2, 3...: one shown already is not shown again.
    if (frame.seq <= chat.seq) return;
    chat.seq = frame.seq;
    save();
  }
  switch (frame.type) {
    case "session":
      if (chat) {
        chat.token = frame.resume;
        save();
      }
      break;
    case "resumed":
      retry = 0;
      setStatus(chat && chat.operator ? chat.operator + " is chatting with you." : "Waiting for an operator…");
      break;
    case "queued":
      setStatus(
        frame.position > 1
          ? "Waiting for an operator… You are number " + frame.position + " in the queue."
          : "Waiting for an operator… You are next."
      );
      break;
    case "joined":
      operator = frame.operator;
      if (chat) {
        chat.operator = operator;
        save();
      }
      setStatus(operator + " is chatting with you.");
      addLine("system", "", operator + " joined the chat.");
      break;
    case "message":
      show($("typing"), false);
      addLine("operator", frame.from, frame.text);
      break;
    case "typing":
      $("typing").textContent = frame.from + " is typing…";
      show($("typing"), frame.state === "composing");
      break;
    case "push":
      showPush(frame.url);
      break;
    case "ended":
      endChat(frame.reason);
      break;
    case "offline":
      // Nobody is there: a message instead of a chat.
      chat = null;
      save();
      show($("chat"), false);
      show($("offline"), true);
      show($("offline-form"), true);
      show($("message-left"), false);
      $("offline-message").textContent = frame.message;
      $("left-name").value = $("name").value;
      $("left-email").value = $("email").value;
      $("left-text").value = $("question").value;
      break;
    case "rated":
      show($("rate-form"), false);
      show($("rated"), true);
      break;
    case "transcript_sent":
      $("transcript-status").textContent =
        "The transcript is on its way to " + $("transcript-email").value.trim() + ".";
      show($("transcript-status"), true);
      break;
    case "message_left":
      show($("offline-form"), false);
      show($("message-left"), true);
      ended = true;
      if (socket) socket.close();
      break;
    case "error":
      if (!$("offline").hidden) {
        $("offline-error").textContent = frame.message;
        show($("offline-error"), true);
        break;
      }
      if (chat && chat.token && !chat.live) {
        // The chat to resume is over (or the server forgot it).
        chat = null;
        save();
        endChat("Your previous chat has ended.");
        break;
      }
      if ($("chat").hidden) {
        $("form-error").textContent = frame.message;
        show($("form-error"), true);
      } else {
        addLine("error", "", frame.message);
      }
      break;
  }
}

function showPush(url) {
  let safe;
  try {
    safe = new URL(url);
  } catch {
    return;
  }
  if (safe.protocol !== "http:" && safe.protocol !== "https:") return;
  $("push-from").textContent = operator;
  $("push-url").href = safe.href;
  $("push-url").textContent = safe.href;
  $("push").showModal();
}

$("push-open").addEventListener("click", () => {
  window.open($("push-url").href, "_blank", "noopener");
  $("push").close();
});
$("push-dismiss").addEventListener("click", () => $("push").close());

/// Opens the socket and sends `first` (a start or a resume) once open; a
/// socket that closes while the chat goes on is opened again, with a
/// pause growing to ten seconds, and resumes.
function connect(first) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(
    scheme + "//" + location.host + "/ws/visitor?portal=" + encodeURIComponent(portal));
  socket.addEventListener("open", () => send(first));
  socket.addEventListener("message", (message) => {
    try {
      const frame = JSON.parse(message.data);
      if (chat && (frame.type === "session" || frame.type === "resumed")) chat.live = true;
      onFrame(frame);
    } catch (error) {
      console.error(error);
    }
  });
  socket.addEventListener("close", () => {
    if (ended || !chat || !chat.token) {
      if (!ended && !$("chat").hidden) endChat("The connection was lost.");
      return;
    }
    chat.live = false;
    setStatus("Reconnecting…");
    const pause = Math.min(10000, 1000 * 2 ** retry);
    retry += 1;
    setTimeout(() => {
      if (chat && !ended) connect({ type: "resume", token: chat.token, after: chat.seq });
    }, pause);
  });
}

function showChat() {
  show($("start-form"), false);
  show($("chat"), true);
  show($("compose"), true);
  show($("leave"), true);
  show($("ended"), false);
  $("messages").replaceChildren();
}

$("start-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show($("form-error"), false);
  const start = {
    type: "start",
    name: $("name").value.trim(),
    email: $("email").value.trim(),
    question: $("question").value.trim(),
    department: $("department").value,
    page: location.href,
  };
  ended = false;
  $("transcript-email").value = start.email;
  show($("transcript-status"), false);
  chat = { portal, token: null, seq: 0, lines: [], operator: null, live: false };
  save();
  showChat();
  setStatus("Connecting…");
  addLine("visitor", "You", start.question);
  $("text").focus();
  connect(start);
});

/// A chat this tab had going before a reload: shown again, and resumed.
function resumeStored() {
  let stored = null;
  try {
    stored = JSON.parse(sessionStorage.getItem(STORED) || "null");
  } catch {
    stored = null;
  }
  if (!stored || !stored.token || (portal && stored.portal !== portal)) return false;
  chat = stored;
  chat.live = false;
  portal = chat.portal;
  ended = false;
  showChat();
  for (const [kind, author, text] of chat.lines) addLine(kind, author, text, false);
  if (chat.operator) operator = chat.operator;
  setStatus("Reconnecting…");
  connect({ type: "resume", token: chat.token, after: chat.seq });
  return true;
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (composing) {
    composing = false;
    send({ type: "typing", state: "paused" });
  }
}

$("text").addEventListener("input", () => {
  if (!composing && $("text").value) {
    composing = true;
    send({ type: "typing", state: "composing" });
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 3000);
});

$("compose").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  clearTimeout(typingTimer);
  composing = false;
  send({ type: "message", text });
  addLine("visitor", "You", text);
  $("text").value = "";
});

$("leave").addEventListener("click", () => {
  send({ type: "leave" });
  endChat("You ended the chat.");
});

// Tell the server the page is going, so that it is not a leave.
window.addEventListener("pagehide", () => {
  if (socket) socket.close();
});

$("rate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const chosen = document.querySelector('input[name="score"]:checked');
  if (!chosen) return;
  send({ type: "rate", score: Number(chosen.value), comment: $("rate-comment").value.trim() });
});

$("transcript-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const email = $("transcript-email").value.trim();
  if (!email) return;
  show($("transcript-status"), false);
  send({ type: "transcript", email });
});

$("offline-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show($("offline-error"), false);
  send({
    type: "leave_message",
    name: $("left-name").value.trim(),
    email: $("left-email").value.trim(),
    text: $("left-text").value.trim(),
  });
});

$("again").addEventListener("click", () => {
  show($("chat"), false);
  show($("start-form"), true);
  $("question").value = "";
  // The last chat's socket, kept open for its rating, goes.
  if (socket) socket.close();
  socket = null;
});

resumeStored();
loadPortal().catch((error) => {
  $("form-error").textContent = "The chat service is not reachable: " + error;
  show($("form-error"), true);
});
