// The group form shows only the settings of the chosen missed-call action (and, for
// "keep waiting", of what follows the wait). The server renders the same choice, and
// without this script the "Show its settings" button asks it again.
(function () {
  const action = document.getElementById("missed.action");
  const after = document.getElementById("missed.after_wait");
  if (!action) return;
  document.querySelectorAll(".show-missed").forEach((b) => { b.hidden = true; });
  function update() {
    const chosen = [action.value];
    if (action.value === "keep_waiting" && after) chosen.push(after.value);
    document.querySelectorAll("#missed [data-for]").forEach((field) => {
      const uses = field.dataset.for.split(" ");
      field.hidden = !chosen.some((a) => uses.includes(a));
    });
  }
  action.addEventListener("change", update);
  if (after) after.addEventListener("change", update);
  update();
})();
