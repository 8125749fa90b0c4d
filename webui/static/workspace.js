// The agent workspace: the server sends the whole state on every change (server-sent
// events); every button calls /api/channels with the session's CSRF token. Text from
// clients is put in with textContent: HTML in a message shows as text.
(function () {
  const root = document.getElementById("workspace");
  const asked = root.dataset.agent; // a supervisor looking at an agent's workspace
  const query = asked ? `?agent=${encodeURIComponent(asked)}` : "";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);
  const said = $("ws-said");
  let state = null;
  let receivedAt = 0;

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // "45 s", "1 min 05 s", "2 h 03 min": as the server writes durations
  function duration(seconds) {
    const total = Math.max(0, Math.round(seconds));
    if (total < 60) return `${total} s`;
    if (total < 3600) return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, "0")} s`;
    return `${Math.floor(total / 3600)} h ${String(Math.floor((total % 3600) / 60)).padStart(2, "0")} min`;
  }

  async function act(path, body, done) {
    const r = await fetch(`/api/channels${path}`, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) {
      const detail = typeof answer.detail === "string" ? answer.detail
        : Array.isArray(answer.detail) ? answer.detail.map((d) => d.problem || d.msg).join("; ") : `error ${r.status}`;
      said.textContent = `Not done: ${detail}`;
      return false;
    }
    said.textContent = done || "";
    return true;
  }

  // ---------------------------------------------------------------- work time
  function agentPath(step) { return `/agents/${encodeURIComponent(state.agent.id)}/${step}`; }
  $("clock-in").addEventListener("click", () => act(agentPath("clock-in"), {}, "Clocked in."));
  $("clock-out").addEventListener("click", () => act(agentPath("clock-out"), {}, "Clocked out."));
  $("break-start").addEventListener("click", async () => {
    const reason = $("break-reason").value.trim();
    if (await act(agentPath("break/start"), { reason }, "Break started.")) $("break-reason").value = "";
  });
  $("break-end").addEventListener("click", () => act(agentPath("break/end"), {}, "Break ended."));

  function renderWork(s) {
    $("work-state").textContent = s.work.words;
    $("work-zone").textContent = ` (times in ${s.agent.time_zone})`;
    const w = s.work;
    $("clock-in").hidden = w.clocked_in;
    $("clock-out").hidden = !w.clocked_in;
    $("break-start").parentElement.hidden = w.on_break || !w.clocked_in;
    $("break-end").hidden = !w.on_break;
    $("work-actions").hidden = s.read_only || !w.tracked; // untracked: clocking changes nothing
  }

  // ---------------------------------------------------------------- cards
  function thread(list, lines) {
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 20;
    list.replaceChildren(...lines.map((l) => {
      const where = l.channel === "chat" ? l.queue_name : `${l.channel_name}${l.subject ? ": " + l.subject : ""}`;
      return el("li", { className: l.sender === "agent" ? "agent" : "client" },
        el("span", { className: "meta", textContent: `${l.who} · ${l.time} · ${where}` }), l.text);
    }));
    if (!lines.length) list.append(el("li", { className: "hint", textContent: "No messages yet." }));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function clientCard(aside, card) {
    const rows = [el("h4", { textContent: card.name || card.client })];
    if (card.known) {
      rows.push(el("p", {}, `${card.kind}. Responsible: `, el("strong", { textContent: card.owner || "nobody" })));
      rows.push(el("p", { className: "hint", textContent: card.identities.join(", ") }));
    } else {
      rows.push(el("p", { className: "hint", textContent: "Not in the CRM yet." }));
    }
    if (card.calls.length) {
      rows.push(el("strong", { textContent: "Recent calls" }),
        el("ul", {}, ...card.calls.map((c) => el("li", { textContent: `${c.time}: ${c.outcome}${c.agent ? " (" + c.agent + ")" : ""}` }))));
    }
    if (card.chats.length) {
      rows.push(el("strong", { textContent: "Recent chats and e-mails" }),
        el("ul", {}, ...card.chats.map((c) => el("li", {
          textContent: `${c.time}: ${c.channel}, ${c.queue}${c.agent ? " (" + c.agent + ")" : ""}${c.status === "closed" ? ", closed" : ""}` }))));
    }
    aside.replaceChildren(...rows);
  }

  function keyed(container, list, emptyText, build, update) {
    const seen = new Set();
    for (const item of list) {
      seen.add(item.id);
      let node = container.querySelector(`:scope > [data-id="${CSS.escape(item.id)}"]`);
      if (!node) {
        node = build(item);
        node.dataset.id = item.id;
        container.append(node);
      }
      update(node, item);
    }
    for (const node of [...container.children]) {
      if (!node.dataset.id || !seen.has(node.dataset.id)) node.remove();
    }
    if (!list.length) container.append(el("p", { className: "hint", textContent: emptyText }));
  }

  function convPath(c, step) { return `/conversations/${encodeURIComponent(c.id)}/${step}`; }

  function buildOffer(c) {
    const accept = el("button", { type: "button", textContent: "Accept" });
    const decline = el("button", { type: "button", className: "secondary", textContent: "Decline" });
    accept.addEventListener("click", () => act(convPath(c, "accept"), {}, `Accepted the chat with ${c.client}.`));
    decline.addEventListener("click", () => act(convPath(c, "reject"), {}, "Declined: it goes to a colleague."));
    const node = el("article", { className: "ws-card offer" },
      el("header", {}, el("h3", { className: "ws-client-name" }), el("span", { className: "hint ws-where" }),
        el("span", { className: "ws-countdown", role: "timer" })),
      el("div", {}, el("ol", { className: "ws-thread" }),
        el("div", { className: "ws-tools ws-act" }, accept, decline)),
      el("aside", { className: "ws-client" }));
    accept.setAttribute("aria-label", `Accept the chat with ${c.client}`);
    return node;
  }

  function updateOffer(node, c) {
    node.querySelector(".ws-client-name").textContent = c.client;
    node.querySelector(".ws-where").textContent = `${c.queue_name} · arrived ${c.arrived}`;
    node.dataset.timeLeft = c.time_left_s === null ? "" : String(c.time_left_s);
    thread(node.querySelector(".ws-thread"), c.thread);
    clientCard(node.querySelector("aside"), c.card);
    node.querySelector(".ws-act").hidden = state.read_only;
  }

  function targetOptions(select) {
    const sig = JSON.stringify([state.colleagues, state.queues]);
    if (select.dataset.sig === sig) return;
    const value = select.value;
    select.replaceChildren(el("option", { value: "", textContent: "Transfer to…" }),
      el("optgroup", { label: "A colleague" }, ...state.colleagues.map((a) =>
        el("option", { value: `agent:${a.id}`, textContent: `${a.name} (${a.state})` }))),
      el("optgroup", { label: "Another queue" }, ...state.queues.map((q) =>
        el("option", { value: `queue:${q.id}`, textContent: q.name }))));
    select.value = value;
    select.dataset.sig = sig;
  }

  function buildConversation(c) {
    const text = el("textarea", { name: "text", maxLength: state.limits.reply, required: true });
    const label = el("label", { className: "sr-only", textContent: `Reply to ${c.client}` });
    text.id = `reply-${c.id}`;
    label.htmlFor = text.id;
    const form = el("form", { className: "ws-reply" }, label, text,
      el("div", { className: "ws-tools" }, el("button", { type: "submit", textContent: "Send" })));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const reply = text.value.trim();
      if (!reply) return;
      if (await act(convPath(c, "answer"), { text: reply }, "Sent.")) text.value = "";
    });
    const target = el("select", { className: "ws-target" });
    target.setAttribute("aria-label", `Transfer the chat with ${c.client} to`);
    const transfer = el("button", { type: "button", className: "secondary", textContent: "Transfer" });
    transfer.addEventListener("click", async () => {
      const [kind, id] = target.value.split(/:(.*)/s);
      if (!id) { said.textContent = "Choose a colleague or a queue to transfer to."; return; }
      const name = target.selectedOptions[0].textContent;
      await act(convPath(c, "transfer"), kind === "agent" ? { to_agent: id } : { to_queue: id }, `Transferred to ${name}.`);
    });
    const close = el("button", { type: "button", className: "secondary danger", textContent: "Close" });
    close.setAttribute("aria-label", `Close the chat with ${c.client}`);
    close.addEventListener("click", () => act(convPath(c, "close"), null, `Closed the chat with ${c.client}.`));
    return el("article", { className: "ws-card" },
      el("header", {}, el("h3", { className: "ws-client-name" }), el("span", { className: "hint ws-where" })),
      el("div", {}, el("ol", { className: "ws-thread" }),
        el("div", { className: "ws-act" }, form, el("div", { className: "ws-tools" }, target, transfer, close))),
      el("aside", { className: "ws-client" }));
  }

  function updateConversation(node, c) {
    node.querySelector(".ws-client-name").textContent = c.client;
    node.querySelector(".ws-where").textContent = `${c.queue_name} · since ${c.arrived}`;
    thread(node.querySelector(".ws-thread"), c.thread);
    clientCard(node.querySelector("aside"), c.card);
    targetOptions(node.querySelector(".ws-target"));
    node.querySelector(".ws-act").hidden = state.read_only;
  }

  function buildItem(i) {
    const done = el("button", { type: "button", textContent: "Done" });
    done.setAttribute("aria-label", `Mark the ${i.kind_name.toLowerCase()} from ${i.client} done`);
    done.addEventListener("click", () => act(`/items/${encodeURIComponent(i.id)}/close`, null, "Marked done."));
    const body = i.kind === "email" ? el("pre", { className: "ws-body", textContent: i.body })
      : el("dl", { className: "facts" }, ...i.fields.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
    return el("article", { className: "ws-card" },
      el("header", {}, el("h3", { textContent: `${i.kind_name}${i.subject ? ": " + i.subject : ""}` }),
        el("span", { className: "hint", textContent: `from ${i.client} · ${i.queue_name} · ${i.received}` })),
      el("div", {}, body, el("div", { className: "ws-tools ws-act" }, done)),
      el("aside", { className: "ws-client" }));
  }

  function updateItem(node, i) {
    clientCard(node.querySelector("aside"), i.card);
    node.querySelector(".ws-act").hidden = state.read_only;
  }

  function calls(list, found, empty) {
    list.replaceChildren(...found.map((c) => el("li", {},
      el("a", { href: c.href, textContent: `${c.time} ${c.caller}` }), ` — ${c.outcome}${c.waited ? ", waited " + c.waited : ""}`)));
    if (!found.length) list.append(el("li", { className: "hint", textContent: empty }));
  }

  function tick() {
    if (!state) return;
    // seconds on the ACD's clock since the state came (the demo's clock runs faster)
    const elapsed = (Date.now() - receivedAt) / 1000 * (state.clock_speed || 1);
    for (const node of document.querySelectorAll("#offers article")) {
      const left = node.dataset.timeLeft;
      node.querySelector(".ws-countdown").textContent = left === ""
        ? "stays with you until you answer"
        : `passes to the next agent in ${duration(Number(left) - elapsed)}`;
    }
  }

  function render(s) {
    state = s;
    receivedAt = Date.now();
    $("ws-title").textContent = `Workspace: ${s.agent.name}`;
    const ro = $("ws-read-only");
    ro.hidden = !s.read_only;
    ro.textContent = s.read_only ? `You are looking at ${s.agent.name}'s workspace: read only.` : "";
    if (s.read_only) { // a supervisor reads someone else's workspace: say whose
      const name = s.agent.name;
      $("work-who").textContent = `${name} is`;
      $("offers-h").textContent = `Offered to ${name}`;
      $("conversations-h").textContent = `${name}'s conversations`;
      $("items-h").textContent = `E-mails and forms assigned to ${name}`;
      $("calls-h").textContent = `${name}'s calls`;
    }
    renderWork(s);
    keyed($("offers"), s.offers, s.read_only ? "Nothing offered right now." : "Nothing offered to you right now.", buildOffer, updateOffer);
    keyed($("conversations"), s.conversations, "No open conversations.", buildConversation, updateConversation);
    keyed($("items"), s.items, "No e-mails or forms to handle.", buildItem, updateItem);
    calls($("calls"), s.calls, "No calls yet.");
    calls($("missed"), s.missed, "Nothing to call back.");
    $("history-link").href = s.links.history;
    tick();
  }

  setInterval(tick, 1000);
  const source = new EventSource(`/api/workspace/stream${query}`);
  source.onopen = () => { $("ws-status").textContent = "Live"; };
  source.onmessage = (e) => render(JSON.parse(e.data));
  source.onerror = () => { $("ws-status").textContent = "Reconnecting…"; };
})();
