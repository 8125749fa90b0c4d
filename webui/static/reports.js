// The reports' charts, drawn by plotly.js (served by acd at /reports/plotly.min.js)
// from the same figures as the tables under them.
(function () {
  "use strict";
  const COLOURS = {answered: "#2e7d32", picked_up: "#00897b", transferred: "#1565c0", abandoned: "#c62828",
                   missed: "#ef6c00", voicemail: "#6a1b9a", forwarded: "#757575", other: "#bdbdbd"};
  const OUTCOMES = Object.keys(COLOURS);
  const LAYOUT = {height: 300, margin: {l: 40, r: 10, t: 10, b: 40},
                  legend: {orientation: "h", y: -0.2, traceorder: "normal"},
                  font: {family: "system-ui, sans-serif", size: 12}};

  function label(columns, key) {
    const found = columns.find((c) => c.key === key);
    return found ? found.label : key;
  }

  function outcomes(chart, x) {
    const data = OUTCOMES.filter((o) => chart.rows.some((r) => r[o] > 0)).map((o) => ({
      type: "bar", name: label(chart.columns, o), x: chart.rows.map((r) => r[x]), y: chart.rows.map((r) => r[o]),
      marker: {color: COLOURS[o]}}));
    return [data, {barmode: "stack", yaxis: {title: {text: "calls"}}, xaxis: {type: "category"}}];
  }

  const DRAW = {
    hourly: (chart) => outcomes(chart, "hour"),
    daily: (chart) => outcomes(chart, "day"),
    groups: (chart) => [[{type: "bar", name: "Service level", x: chart.rows.map((r) => r.group),
                          y: chart.rows.map((r) => r.service_level), marker: {color: "#1565c0"}}],
                        {yaxis: {title: {text: "% answered within target"}, range: [0, 100]}}],
    distribution: (chart) => {
      const queues = [...new Set(chart.rows.map((r) => r.queue))];
      return [queues.map((q) => {
        const rows = chart.rows.filter((r) => r.queue === q);
        return {type: "bar", name: q, x: rows.map((r) => r.agent), y: rows.map((r) => r.items)};
      }), {barmode: "group", yaxis: {title: {text: "items"}}}];
    },
  };

  function draw() {
    const source = document.getElementById("report-charts");
    if (!source || typeof Plotly === "undefined") return;
    const charts = JSON.parse(source.textContent);
    for (const element of document.querySelectorAll("[data-chart]")) {
      const chart = charts[element.dataset.chart];
      if (!chart || !chart.rows.length) { element.hidden = true; continue; }
      const [data, layout] = DRAW[element.dataset.chart](chart);
      Plotly.newPlot(element, data, {...LAYOUT, ...layout}, {displayModeBar: false, responsive: true});
    }
    document.body.dataset.chartsDrawn = "yes";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
