// On a narrow screen tables stack their cells: give each cell its column's name.
(function () {
  function label(table) {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.tBodies[0] ? table.tBodies[0].rows : []) {
      [...row.cells].forEach((td, i) => { if (names[i] && td.colSpan === 1) td.dataset.label = names[i]; });
    }
  }
  window.acdLabelTable = label;
  document.querySelectorAll("table.grid").forEach(label);
})();
