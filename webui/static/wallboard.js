// Wallboard: the server sends every group's and chat queue's figures on each change
// and every second; tiles are updated in place (a reason being typed is kept).
(function () {
  const root = document.getElementById("wallboard");
  const status = document.getElementById("wb-status");
  const said = document.getElementById("wb-said");
  const canPause = root.dataset.canPause === "true";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const STATES = ["available", "on a call", "ringing", "wrap-up", "on a break", "offline"];

  function duration(s) {
    if (s === null || s === undefined) return "—";
    const t = Math.max(0, Math.round(s));
    if (t < 60) return `${t} s`;
    if (t < 3600) return `${Math.floor(t / 60)} min ${String(t % 60).padStart(2, "0")} s`;
    return `${Math.floor(t / 3600)} h ${String(Math.floor((t % 3600) / 60)).padStart(2, "0")} min`;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function figure(name, label, value, extra) {
    const box = el("div", "wb-figure");
    box.dataset.figure = name;
    const v = el("span", "wb-value", value);
    box.append(v, el("span", "wb-label", label));
    if (extra) box.append(el("span", "wb-extra", extra));
    return box;
  }
  function tile(container, key, id) {
    let t = container.querySelector(`[data-${key}="${CSS.escape(id)}"]`);
    if (!t) { t = el("article", "wb-tile"); t.dataset[key] = id; container.append(t); }
    return t;
  }
  function levelText(level) { return { ok: "", amber: "Attention", red: "Alert" }[level] || ""; }

  function renderGroup(t, g) {
    t.className = `wb-tile level-${g.level}`;
    const head = el("header");
    head.append(el("h3", "", g.name));
    if (g.level !== "ok") head.append(el("span", "wb-badge", levelText(g.level)));
    const main = el("div", "wb-figures wb-main");
    main.append(figure("waiting", "waiting now", String(g.waiting)),
      figure("longest_wait", "longest wait", duration(g.longest_wait_s)),
      figure("service_level", `service level (goal ${g.goal_percent} % in ${g.answer_within_s} s)`,
        g.service_level_percent === null ? "—" : `${g.service_level_percent} %`));
    const today = el("div", "wb-figures wb-today");
    today.append(figure("answered", "answered", String(g.answered)),
      figure("abandoned", "abandoned", String(g.abandoned)),
      figure("missed", "missed", String(g.missed)),
      figure("asa", "average answer", duration(g.asa_s)));
    const agents = el("ul", "wb-agent-counts");
    for (const s of STATES) {
      const li = el("li", `agent-${s.replace(/ /g, "-")}`);
      li.dataset.agentState = s;
      li.append(el("b", "", String(g.agents[s])), " " + s);
      agents.append(li);
    }
    const alerts = el("p", "wb-alerts", g.alerts.join("; "));
    t.replaceChildren(head, main, today, agents, alerts);
  }
  function renderChat(t, q) {
    t.className = `wb-tile level-${q.level}`;
    const head = el("header");
    head.append(el("h3", "", q.name));
    if (q.level !== "ok") head.append(el("span", "wb-badge", levelText(q.level)));
    const main = el("div", "wb-figures wb-main");
    main.append(figure("waiting", "conversations waiting", String(q.waiting)),
      figure("first_response", "average first response today", duration(q.first_response_s)),
      figure("at_limit", `agents at their limit (of ${q.members})`, String(q.agents_at_limit)));
    const today = el("div", "wb-figures wb-today");
    today.append(figure("arrived", "chats today", String(q.arrived)),
      figure("longest_wait", "longest wait", duration(q.longest_wait_s)));
    t.replaceChildren(head, main, today, el("p", "wb-alerts", q.alerts.join("; ")));
  }

  async function post(url, body) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const d = data.detail;
      throw new Error(typeof d === "string" ? d : Array.isArray(d) ? d.map((p) => p.problem || p.msg).join("; ") : r.status);
    }
    return data;
  }
  function breakCell(td, a) {
    const kind = !canPause ? "none" : a.state === "on a break" ? "end" : "start";
    if (td.dataset.kind === kind) return;
    td.dataset.kind = kind;
    td.replaceChildren();
    if (kind === "end") {
      const b = el("button", "secondary", "End the break");
      b.type = "button";
      b.setAttribute("aria-label", `End ${a.name}'s break`);
      b.addEventListener("click", async () => {
        try { await post(`/api/channels/agents/${encodeURIComponent(a.id)}/break/end`); said.textContent = `${a.name}'s break ended.`; }
        catch (e) { said.textContent = `Could not end ${a.name}'s break: ${e.message}`; }
      });
      td.append(b);
    } else if (kind === "start") {
      const form = el("form", "wb-break");
      const input = el("input");
      input.name = "reason";
      input.maxLength = Number(root.dataset.reasonMax || 100);
      input.placeholder = "reason";
      input.setAttribute("aria-label", `Reason for ${a.name}'s break`);
      const b = el("button", "secondary", "Start a break");
      b.type = "submit";
      b.setAttribute("aria-label", `Put ${a.name} on a break`);
      form.append(input, b);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        try {
          await post(`/api/channels/agents/${encodeURIComponent(a.id)}/break/start`, { reason: input.value });
          said.textContent = `${a.name} is on a break${input.value ? ` (${input.value})` : ""}.`;
        } catch (e) { said.textContent = `Could not put ${a.name} on a break: ${e.message}`; }
      });
      td.append(form);
    }
  }
  function renderAgents(agents) {
    const body = document.querySelector("#wb-agents tbody");
    for (const a of agents) {
      let row = body.querySelector(`tr[data-agent-id="${CSS.escape(a.id)}"]`);
      if (!row) {
        row = body.insertRow();
        row.dataset.agentId = a.id;
        row.insertCell().textContent = a.name;
        row.insertCell().className = "state";
        row.insertCell();
      }
      const state = a.state === "on a break" && a.reason && a.reason !== "on a break" ? `${a.state} (${a.reason})` : a.state;
      row.cells[1].textContent = state;
      row.cells[1].dataset.state = a.state;
      breakCell(row.cells[2], a);
    }
    if (window.acdLabelTable) window.acdLabelTable(document.getElementById("wb-agents"));
  }
  function render(data) {
    const groups = document.getElementById("wb-groups");
    for (const g of data.groups) renderGroup(tile(groups, "group", g.id), g);
    const chats = document.getElementById("wb-chats");
    document.getElementById("wb-chats-section").hidden = !data.chat_queues.length;
    for (const q of data.chat_queues) renderChat(tile(chats, "queue", q.id), q);
    renderAgents(data.agents);
  }
  document.getElementById("wb-fullscreen").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen(); else root.requestFullscreen().catch(() => {});
  });
  const source = new EventSource("/api/wallboard/stream");
  source.onopen = () => { status.textContent = "Live"; };
  source.onmessage = (e) => { render(JSON.parse(e.data)); root.dataset.updated = String(Date.now()); };
  source.onerror = () => { status.textContent = "Reconnecting…"; };
})();
