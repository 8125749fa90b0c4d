// Live view: the server sends the whole picture (calls, agents) on every change.
(function () {
  const status = document.getElementById("live-status");
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  function cell(row, value, cls) {
    const td = row.insertCell();
    td.textContent = text(value);
    if (cls) td.className = cls;
    return td;
  }
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const said = document.getElementById("live-said");
  // "1 min 05 s", as the pages say durations (acd.web.words.duration)
  function duration(seconds) {
    const total = Math.max(0, Math.round(seconds));
    if (total < 60) return `${total} s`;
    const pad = (n) => String(n).padStart(2, "0");
    if (total < 3600) return `${Math.floor(total / 60)} min ${pad(total % 60)} s`;
    return `${Math.floor(total / 3600)} h ${pad(Math.floor((total % 3600) / 60))} min`;
  }
  const zone = (document.getElementById("live") || { dataset: {} }).dataset.zone || "UTC";
  const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone });
  // durations count on between the server's updates: each cell knows when its clock started
  let received = Date.now();
  function ticking(td, seconds, suffix) {
    td.dataset.seconds = String(seconds);
    td.dataset.suffix = suffix || "";
    td.textContent = duration(seconds) + (suffix || "");
    return td;
  }
  setInterval(() => {
    const gone = (Date.now() - received) / 1000;
    document.querySelectorAll("td[data-seconds]").forEach((td) => {
      td.textContent = duration(Number(td.dataset.seconds) + gone) + td.dataset.suffix;
    });
  }, 1000);
  // "Intercept": take a call ringing a colleague in a pickup group to my own phone
  function interceptButton(td, c) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "intercept";
    button.textContent = "Intercept";
    button.setAttribute("aria-label", `Intercept the call from ${c.caller_number}`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const r = await fetch(`/api/live/calls/${encodeURIComponent(c.call_id)}/intercept`,
        { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
      const body = await r.json().catch(() => ({}));
      said.textContent = r.ok ? `Taking the call from ${c.caller_number} to your phone…`
        : `Could not intercept: ${typeof body.detail === "string" ? body.detail : r.status}`;
      button.disabled = false;
    });
    td.append(" ", button);
  }
  // "Pause" with a reason from [pauses] reasons, or "Resume": the agent's break, which
  // stops calls, chats, e-mails and forms alike (/api/channels/agents/{id}/break/...)
  const chosen = {};  // agent id -> the reason picked, kept across live updates
  function pauseControls(td, a, reasons) {
    const post = async (step, body, done) => {
      const r = await fetch(`/api/channels/agents/${encodeURIComponent(a.id)}/break/${step}`, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const answer = await r.json().catch(() => ({}));
      said.textContent = r.ok ? done : `Could not change ${a.name}: ${typeof answer.detail === "string" ? answer.detail : r.status}`;
    };
    if (a.on_break) {
      const resume = document.createElement("button");
      resume.type = "button";
      resume.textContent = "Resume";
      resume.setAttribute("aria-label", `Resume ${a.name}`);
      resume.addEventListener("click", () => post("end", {}, `${a.name} is back at work.`));
      td.append(resume);
      return;
    }
    if (!a.working) return;  // off for another reason (hours, clocked out): nothing to pause
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Reason to pause ${a.name}`);
    for (const reason of reasons) select.append(new Option(reason, reason));
    if (chosen[a.id]) select.value = chosen[a.id];
    select.addEventListener("change", () => { chosen[a.id] = select.value; });
    const pause = document.createElement("button");
    pause.type = "button";
    pause.textContent = "Pause";
    pause.setAttribute("aria-label", `Pause ${a.name}`);
    pause.addEventListener("click", () => post("start", { reason: select.value },
      `${a.name} is paused: ${select.value}.`));
    td.append(select, " ", pause);
  }
  function render(data) {
    received = Date.now();
    const calls = document.querySelector("#calls tbody");
    calls.replaceChildren();
    if (!data.calls.length) {
      const row = calls.insertRow();
      const td = cell(row, "No calls right now.", "empty");
      td.colSpan = 7;
    }
    for (const c of data.calls) {
      const row = calls.insertRow();
      row.dataset.callId = c.call_id;
      cell(row, c.caller_name && c.caller_name !== c.caller_number ? `${c.caller_name} (${c.caller_number})` : c.caller_number);
      cell(row, c.did);
      cell(row, c.group_name || c.group);
      cell(row, c.progress, "state state-" + c.phase);
      const ringing = cell(row, c.ringing_names.join(", ") + (c.dialling_names.length ? ` (dialling ${c.dialling_names.join(", ")})` : ""));
      ringing.className = "ringing";
      if (c.can_intercept) interceptButton(ringing, c);
      cell(row, c.agent_name);
      if (c.agent) cell(row, duration(c.waited_s)); else ticking(row.insertCell(), c.waited_s);
    }
    const chats = document.querySelector("#conversations tbody");
    chats.replaceChildren();
    const open = data.conversations || [];
    if (!open.length) {
      const td = cell(chats.insertRow(), "No open chats.", "empty");
      td.colSpan = 6;
    }
    for (const c of open) {
      const row = chats.insertRow();
      row.dataset.conversationId = c.id;
      cell(row, c.client);
      cell(row, c.queue_name || c.queue);
      cell(row, c.progress, "state state-" + c.phase);
      cell(row, c.offered_names.join(", "));
      cell(row, c.agent_name);
      ticking(row.insertCell(), c.waited_s);
    }
    const agents = document.querySelector("#agents tbody");
    agents.replaceChildren();
    for (const a of data.agents) {
      const row = agents.insertRow();
      row.dataset.agentId = a.id;
      cell(row, a.name);
      cell(row, a.extension);
      cell(row, a.state + (a.state_why ? ` (${a.state_why})` : ""), "state state-" + a.state.replace(/ /g, "-"));
      ticking(row.insertCell(), a.in_state_s, ` (since ${clock.format(new Date(a.state_since * 1000))})`);
      pauseControls(row.insertCell(), a, data.pause_reasons || []);
    }
    if (window.acdRenderCallbacks) window.acdRenderCallbacks(data);  // live_callbacks.js
    if (window.acdLabelTable) document.querySelectorAll("table.grid").forEach(window.acdLabelTable);
  }
  function connect() {
    const source = new EventSource("/api/live/stream");
    source.onopen = () => { status.textContent = "Live"; };
    source.onmessage = (e) => render(JSON.parse(e.data));
    source.onerror = () => { status.textContent = "Reconnecting…"; };
  }
  connect();
})();
