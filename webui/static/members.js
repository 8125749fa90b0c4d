// Up / Down / Remove move members in place (the order is the hidden inputs' order);
// focus stays on the pressed button so the keyboard can keep moving the same member.
(function () {
  const list = document.getElementById("members");
  if (!list) return;
  list.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-move]");
    if (!button) return;
    e.preventDefault();
    const item = button.closest("li");
    const verb = button.dataset.move;
    if (verb === "up" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (verb === "down" && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    } else if (verb === "remove") {
      const next = item.nextElementSibling || item.previousElementSibling;
      item.remove();
      if (next) next.querySelector("button[data-move]").focus();
    }
    if (verb !== "remove") button.focus();
    let status = document.getElementById("members-status");
    if (!status) {
      status = document.createElement("p");
      status.id = "members-status";
      status.className = "notice";
      status.setAttribute("role", "status");
      list.after(status);
    }
    const names = [...list.querySelectorAll(".member-name")].map((n) => n.textContent);
    status.textContent = "New order (not saved yet): " + names.join(", ");
  });
})();
