/* acd website chat: <script src="https://acd.example/widget.js" data-channel="site" async></script>
   Plain JS, no build step, nothing from a CDN. The visitor token lives in the site's
   localStorage, so the conversation survives a reload. Every text is shown with
   textContent: HTML a customer or an agent writes stays text. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.channel) { return; }
  var channel = script.dataset.channel;
  var base = new URL(script.src).origin;
  var api = base + "/widget/" + encodeURIComponent(channel);
  var storeKey = "acd-widget:" + base + ":" + channel;
  var title = script.dataset.title || "Chat with us";
  var state = { visitor: null, conversation: null, last: 0, polling: false, shown: {} };
  try { Object.assign(state, JSON.parse(localStorage.getItem(storeKey) || "{}"), { polling: false, shown: {}, last: 0 }); }
  catch (e) { /* a broken entry: start afresh */ }

  function save() {
    try { localStorage.setItem(storeKey, JSON.stringify({ visitor: state.visitor, conversation: state.conversation })); }
    catch (e) { /* private mode: the chat still works until the page closes */ }
  }

  function el(tag, css, text) {
    var node = document.createElement(tag);
    if (css) { node.style.cssText = css; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var root = el("div", "position:fixed;right:16px;bottom:16px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif");
  root.id = "acd-chat";
  var button = el("button", "background:#1f6feb;color:#fff;border:0;border-radius:20px;padding:10px 16px;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.25)", title);
  button.id = "acd-chat-open";
  button.type = "button";
  var panel = el("div", "display:none;flex-direction:column;width:320px;height:420px;background:#fff;color:#1b1f24;border:1px solid #d0d7de;border-radius:10px;box-shadow:0 4px 16px rgba(0,0,0,.2);overflow:hidden");
  panel.id = "acd-chat-panel";
  var head = el("div", "background:#1f6feb;color:#fff;padding:10px 12px;font-weight:600;display:flex;justify-content:space-between", title);
  var close = el("button", "background:none;border:0;color:#fff;font-size:16px;cursor:pointer", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", "Close the chat");
  head.appendChild(close);
  var list = el("div", "flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px");
  list.id = "acd-chat-messages";
  list.setAttribute("aria-live", "polite");
  var notice = el("div", "color:#9a6700;font-size:12px;padding:0 10px");
  notice.id = "acd-chat-notice";
  var form = el("form", "display:flex;border-top:1px solid #d0d7de");
  var input = el("textarea", "flex:1;border:0;padding:8px;resize:none;font:inherit;height:44px");
  input.id = "acd-chat-input";
  input.placeholder = "Write a message";
  input.maxLength = 2000;
  var send = el("button", "border:0;background:#1f6feb;color:#fff;padding:0 14px;cursor:pointer", "Send");
  send.id = "acd-chat-send";
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(list);
  panel.appendChild(notice);
  panel.appendChild(form);
  root.appendChild(button);
  root.appendChild(panel);

  function show(open) {
    panel.style.display = open ? "flex" : "none";
    button.style.display = open ? "none" : "inline-block";
    if (open) { input.focus(); }
  }

  function add(message) {
    if (state.shown[message.id]) { return; }
    state.shown[message.id] = true;
    var mine = message.from === "you";
    var bubble = el("div", "max-width:80%;padding:6px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word;" +
      (mine ? "align-self:flex-end;background:#ddf4ff" : "align-self:flex-start;background:#f6f8fa"), message.text);
    bubble.className = "acd-chat-message acd-chat-" + message.from;
    list.appendChild(bubble);
    list.scrollTop = list.scrollHeight;
  }

  function call(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.visitor) { headers["X-ACD-Visitor"] = state.visitor; }
    return fetch(api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined, mode: "cors" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) { var error = new Error(data.detail || ("HTTP " + response.status)); error.status = response.status; throw error; }
          return data;
        });
      });
  }

  function visitor() {
    if (state.visitor) { return Promise.resolve(state.visitor); }
    return call("POST", "/visitors").then(function (data) { state.visitor = data.visitor; save(); return state.visitor; });
  }

  function poll() {
    if (state.polling || !state.visitor) { return; }
    state.polling = true;
    var delay = 1000;
    (function next() {
      var query = "?wait=25&after=" + state.last + (state.conversation ? "&conversation=" + encodeURIComponent(state.conversation) : "");
      call("GET", "/messages" + query).then(function (data) {
        delay = 1000;
        notice.textContent = "";
        if (data.conversation && data.conversation !== state.conversation) { state.conversation = data.conversation; save(); }
        data.messages.forEach(add);
        state.last = data.last;
        next();
      }).catch(function (error) {
        if (error.status === 401) { state.visitor = null; state.conversation = null; save(); state.polling = false; return; }
        notice.textContent = "Reconnecting\u2026";
        delay = Math.min(delay * 2, 30000);
        setTimeout(next, delay);
      });
    })();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    send.disabled = true;
    visitor().then(function () { return call("POST", "/messages", { text: text }); }).then(function (data) {
      input.value = "";
      notice.textContent = "";
      state.conversation = data.conversation;
      save();
      poll();
    }).catch(function (error) {
      notice.textContent = error.status === 429 ? "Too many messages: wait a moment." : "Not sent: " + error.message;
    }).then(function () { send.disabled = false; });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  button.addEventListener("click", function () { show(true); });
  close.addEventListener("click", function () { show(false); });

  function mount() {
    document.body.appendChild(root);
    if (state.visitor) { show(true); poll(); }
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
