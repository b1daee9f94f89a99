// Charts for the dashboard: each <canvas data-chart="NAME"> is drawn from the page's
// <script id="chart-data"> JSON with Chart.js (shipped with the package). The tables beside
// every chart carry the same figures, so the page reads without scripts too.
(function () {
  "use strict";
  var palette = ["#2680c2", "#3ebd93", "#f0b429", "#ef4e4e", "#9446ed", "#0fb5ba", "#8d6e63", "#52606d"];

  function timeline(canvas, spec) {
    var day = Date.parse(spec.day);
    var points = spec.series.map(function (s) {
      var end = s.to ? Date.parse(s.to) : Math.max(day, Date.parse(s.from)) + 30 * 864e5;
      return { x: [Date.parse(s.from), end], y: s.service, label: s.label };
    });
    var lows = points.map(function (p) { return p.x[0]; }).concat([day]);
    var highs = points.map(function (p) { return p.x[1]; }).concat([day + 864e5]);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [{
          label: "periods",
          data: points,
          backgroundColor: points.map(function (_, i) { return palette[i % palette.length]; }),
          borderSkipped: false,
          barPercentage: 0.7
        }]
      },
      options: {
        indexAxis: "y", animation: false, maintainAspectRatio: false,
        parsing: { xAxisKey: "x", yAxisKey: "y" },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (c) { return c.raw.label; } } }
        },
        scales: {
          x: {
            type: "linear", min: Math.min.apply(null, lows) - 864e5, max: Math.max.apply(null, highs) + 864e5,
            title: { display: true, text: "UK day" },
            ticks: { callback: function (v) { return new Date(v).toISOString().slice(0, 10); }, maxTicksLimit: 8 }
          }
        }
      }
    });
  }

  function draw() {
    var holder = document.getElementById("chart-data");
    if (!holder || typeof Chart === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = data[canvas.dataset.chart];
      if (!spec || canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      if (spec.type === "timeline") { timeline(canvas, spec); return; }
      var line = spec.type === "line";
      var horizontal = !!spec.horizontal;
      var category = { stacked: !!spec.stacked, ticks: { autoSkip: line, maxTicksLimit: line ? 12 : undefined, maxRotation: line ? 0 : 45 } };
      var value = { stacked: !!spec.stacked, beginAtZero: true };
      if (spec.categoryTitle) { category.title = { display: true, text: spec.categoryTitle }; }
      if (spec.valueTitle) { value.title = { display: true, text: spec.valueTitle }; }
      new Chart(canvas, {
        type: spec.type,
        data: {
          labels: spec.labels,
          datasets: spec.series.map(function (s, i) {
            var colour = s.colour || palette[i % palette.length];
            return line
              ? { label: s.label, data: s.data, borderColor: colour, backgroundColor: colour, pointRadius: 0, borderWidth: 1.5 }
              : { label: s.label, data: s.data, backgroundColor: colour };
          })
        },
        options: {
          animation: false, maintainAspectRatio: false, indexAxis: horizontal ? "y" : "x",
          plugins: { legend: { display: spec.series.length > 1, position: line ? "top" : "bottom" } },
          scales: horizontal ? { y: category, x: value } : { x: category, y: value }
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
