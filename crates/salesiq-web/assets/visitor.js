// The visitor page: a form, then a live chat over /ws/visitor.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let portal = params.get("portal") || "";
let socket = null;
let ended = false;
let operator = "The operator";
let typingTimer = null;
let composing = false;

function show(element, visible) {
  element.hidden = !visible;
}

function addLine(kind, author, text) {
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
  setStatus("The chat has ended.");
  $("ended-reason").textContent = reason;
  show($("typing"), false);
  show($("compose"), false);
  show($("leave"), false);
  show($("ended"), true);
  if (socket) socket.close();
}

function onFrame(frame) {
  switch (frame.type) {
    case "queued":
      setStatus("Waiting for an operator…");
      break;
    case "joined":
      operator = frame.operator;
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
    case "error":
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
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(
    scheme + "//" + location.host + "/ws/visitor?portal=" + encodeURIComponent(portal));
  ended = false;
  socket.addEventListener("open", () => {
    send(start);
    show($("start-form"), false);
    show($("chat"), true);
    show($("compose"), true);
    show($("leave"), true);
    show($("ended"), false);
    $("messages").replaceChildren();
    setStatus("Connecting…");
    addLine("visitor", "You", start.question);
    $("text").focus();
  });
  socket.addEventListener("message", (message) => {
    try {
      onFrame(JSON.parse(message.data));
    } catch (error) {
      console.error(error);
    }
  });
  socket.addEventListener("close", () => {
    if (!$("chat").hidden) endChat("The connection was lost.");
  });
});

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

$("again").addEventListener("click", () => {
  show($("chat"), false);
  show($("start-form"), true);
  $("question").value = "";
  socket = null;
});

loadPortal().catch((error) => {
  $("form-error").textContent = "The chat service is not reachable: " + error;
  show($("form-error"), true);
});
