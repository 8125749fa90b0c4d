// Live view, callbacks: the open requests in their groups' lines; a supervisor may move
// one to the front or cancel it (only while it waits: an attempt under way runs to its end).
(function () {
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  function cell(row, value, cls) {
    const td = row.insertCell();
    td.textContent = text(value);
    if (cls) td.className = cls;
    return td;
  }
  function button(td, label, aria, action, body) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = label;
    b.setAttribute("aria-label", aria);
    b.addEventListener("click", async () => {
      b.disabled = true;
      const r = await fetch(action, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: JSON.stringify(body || {}),
      });
      const said = document.getElementById("live-said");
      const answer = await r.json().catch(() => ({}));
      if (said) said.textContent = r.ok ? `${label}: done.` : `${label}: ${typeof answer.detail === "string" ? answer.detail : r.status}`;
      b.disabled = false;
    });
    td.append(b, " ");
  }
  window.acdRenderCallbacks = function (data) {
    const body = document.querySelector("#callbacks tbody");
    if (!body) return;
    body.replaceChildren();
    const open = data.callbacks || [];
    if (!open.length) {
      cell(body.insertRow(), "No callbacks waiting.", "empty").colSpan = 8;
      return;
    }
    const manages = data.me && data.me.manages_callbacks;
    for (const c of open) {
      const row = body.insertRow();
      row.dataset.requestId = c.request_id;
      cell(row, c.number);
      cell(row, c.group_name || c.group);
      cell(row, c.position);
      cell(row, c.state_words + (c.agent ? ` (${c.agent})` : ""), "state state-" + c.state);
      cell(row, `${c.attempts}${c.max_attempts ? " of " + c.max_attempts : ""}` +
        (c.outcomes.length ? ` (${c.outcomes.join(", ")})` : ""));
      cell(row, c.next_try_in_s > 0 ? `in ${Math.round(c.next_try_in_s)} s` : "");
      cell(row, `${Math.round(c.waiting_s)} s`);
      const td = row.insertCell();
      if (manages && c.state === "waiting") {
        const url = `/api/callbacks/${encodeURIComponent(c.request_id)}`;
        if (c.position > 1) button(td, "Move to front", `Move the callback to ${c.number} to the front`, url + "/move", { position: 1 });
        button(td, "Cancel", `Cancel the callback to ${c.number}`, url + "/cancel");
      }
    }
  };
})();
