// Admin pages: draw the dashboard and experiment charts with the vendored Chart.js, and follow a
// training run's progress. Chart numbers arrive in <script type="application/json"> blocks (data,
// never executed, so the CSP allows them); every chart also has a table or CSV link with its numbers.
(function () {
  "use strict";

  const COLORS = {
    view: "#9fb3c8",
    click: "#2d4b73",
    add_to_cart: "#f4a259",
    purchase: "#2a9d8f",
    primary: "#2d4b73",
    accent: "#f4c95d",
    teal: "#2a9d8f",
    rose: "#d1495b",
    grid: "rgba(0,0,0,.06)",
  };
  const KIND_LABELS = { view: "Views", click: "Clicks", add_to_cart: "Added to cart", purchase: "Purchases" };

  function readJSON(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function canvas(id) { return document.getElementById(id); }

  const charts = [];
  window.shopCharts = charts; // lets the browser test see that every chart was drawn

  function draw(id, config) {
    const el = canvas(id);
    if (!el || typeof Chart === "undefined") return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts.push(new Chart(el, config));
  }

  function baseScales(extra) {
    return Object.assign({
      x: { grid: { display: false } },
      y: { beginAtZero: true, grid: { color: COLORS.grid } },
    }, extra || {});
  }

  // A ranking drawn as horizontal bars: one dataset, so no legend; the values run along x.
  function horizontalBarOptions() {
    return {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, grid: { color: COLORS.grid } }, y: { grid: { display: false } } },
    };
  }

  function pct(v) { return v === null || v === undefined ? "–" : v.toFixed(1) + "%"; }

  function dashboard(data) {
    if (typeof Chart !== "undefined") {
      Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      Chart.defaults.color = "#495057";
    }
    draw("chart-revenue", {
      type: "bar",
      data: {
        labels: data.revenue.labels,
        datasets: [{ label: "Revenue", data: data.revenue.values, backgroundColor: COLORS.teal, borderRadius: 3 }],
      },
      options: {
        plugins: { legend: { display: false } },
        scales: baseScales({ x: { grid: { display: false }, ticks: { maxTicksLimit: 12 } } }),
      },
    });
    draw("chart-activity", {
      type: "line",
      data: {
        labels: data.activity.labels,
        datasets: Object.keys(KIND_LABELS).map(function (kind) {
          return {
            label: KIND_LABELS[kind], data: data.activity.series[kind], borderColor: COLORS[kind],
            backgroundColor: COLORS[kind], pointRadius: 0, borderWidth: 2, tension: 0.25,
          };
        }),
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: baseScales({ x: { grid: { display: false }, ticks: { maxTicksLimit: 10 } } }),
      },
    });
    draw("chart-funnel", {
      type: "bar",
      data: {
        labels: data.funnel.labels,
        datasets: [{ label: "Events", data: data.funnel.values, borderRadius: 4,
          backgroundColor: [COLORS.view, COLORS.click, COLORS.add_to_cart, COLORS.purchase] }],
      },
      options: horizontalBarOptions(),
    });
    draw("chart-top-clicked", {
      type: "bar",
      data: {
        labels: data.topClicked.labels,
        datasets: [{ label: "Clicks", data: data.topClicked.values, backgroundColor: COLORS.primary, borderRadius: 4 }],
      },
      options: horizontalBarOptions(),
    });
    draw("chart-categories", {
      type: "bar",
      data: {
        labels: data.categories.labels,
        datasets: [
          { label: "Add to cart ÷ clicks", data: data.categories.cartRate, backgroundColor: COLORS.add_to_cart, borderRadius: 3 },
          { label: "Purchases ÷ clicks", data: data.categories.purchaseRate, backgroundColor: COLORS.purchase, borderRadius: 3 },
        ],
      },
      options: {
        plugins: { legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + pct(c.parsed.y); } } } },
        scales: baseScales({ y: { beginAtZero: true, grid: { color: COLORS.grid }, ticks: { callback: function (v) { return v + "%"; } } } }),
      },
    });
    draw("chart-ratings", {
      type: "bar",
      data: {
        labels: data.ratings.labels,
        datasets: [{ label: "Ratings", data: data.ratings.values, borderRadius: 4,
          backgroundColor: ["#d1495b", "#f4a259", "#f4c95d", "#8ab17d", "#2a9d8f"] }],
      },
      options: { plugins: { legend: { display: false } }, scales: baseScales() },
    });
    draw("chart-shoppers", {
      type: "bar",
      data: {
        labels: data.shoppers.labels,
        datasets: [
          { label: "New", data: data.shoppers.new, backgroundColor: COLORS.accent },
          { label: "Returning", data: data.shoppers.returning, backgroundColor: COLORS.primary },
        ],
      },
      options: {
        plugins: { legend: { position: "bottom" } },
        scales: { x: { stacked: true, grid: { display: false }, ticks: { maxTicksLimit: 12 } },
          y: { stacked: true, beginAtZero: true, grid: { color: COLORS.grid } } },
      },
    });
  }

  // Error bars without a plugin: draw each interval as a line over its bar after the bars are drawn.
  const intervalPlugin = {
    id: "intervals",
    afterDatasetsDraw: function (chart) {
      const ctx = chart.ctx;
      chart.data.datasets.forEach(function (ds, i) {
        if (!ds.intervals) return;
        const meta = chart.getDatasetMeta(i);
        const y = chart.scales.y;
        meta.data.forEach(function (bar, j) {
          const iv = ds.intervals[j];
          if (!iv) return;
          const top = y.getPixelForValue(iv[1]);
          const bottom = y.getPixelForValue(iv[0]);
          ctx.save();
          ctx.strokeStyle = "#212529";
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
          ctx.moveTo(bar.x - 6, top); ctx.lineTo(bar.x + 6, top);
          ctx.moveTo(bar.x - 6, bottom); ctx.lineTo(bar.x + 6, bottom);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  function experiment(data) {
    function values(points) { return points.map(function (p) { return p ? p[0] : null; }); }
    function intervals(points) { return points.map(function (p) { return p ? [p[1], p[2]] : null; }); }
    // Leave room above the highest interval end so no error bar is cut off.
    const top = Math.max.apply(null, data.ctr.concat(data.conversion).map(function (p) { return p ? p[2] : 0; }));
    draw("chart-experiment", {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Click-through", data: values(data.ctr), intervals: intervals(data.ctr), backgroundColor: COLORS.primary, borderRadius: 3 },
          { label: "Conversion", data: values(data.conversion), intervals: intervals(data.conversion), backgroundColor: COLORS.teal, borderRadius: 3 },
        ],
      },
      options: {
        plugins: { legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (c) {
            const iv = c.dataset.intervals[c.dataIndex];
            return c.dataset.label + ": " + pct(c.parsed.y) + (iv ? " (95% CI " + pct(iv[0]) + "–" + pct(iv[1]) + ")" : "");
          } } } },
        scales: baseScales({ y: { beginAtZero: true, suggestedMax: Math.ceil(top / 5) * 5, grid: { color: COLORS.grid },
          ticks: { callback: function (v) { return v + "%"; } } } }),
      },
      plugins: [intervalPlugin],
    });
  }

  // A running retrain: poll its JSON and move the bar; reload once it has finished.
  function followRun(box) {
    const url = box.dataset.runUrl;
    const bar = box.querySelector("[data-run-bar]");
    const percent = box.querySelector("[data-run-percent]");
    const message = box.querySelector("[data-run-message]");
    const status = box.querySelector("[data-run-status]");
    async function tick() {
      let run;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) {
          if (response.status >= 500) setTimeout(tick, 3000); // a busy server: ask again later
          return;
        }
        run = await response.json();
      } catch (e) {
        setTimeout(tick, 3000);
        return;
      }
      bar.value = run.progress;
      bar.textContent = run.progress + "%";
      percent.textContent = run.progress + "%";
      message.textContent = run.message || "";
      status.textContent = run.status;
      if (run.finished) {
        setTimeout(function () { window.location.reload(); }, 800);
      } else {
        setTimeout(tick, 1500);
      }
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    const dash = readJSON("dashboard-data");
    if (dash) dashboard(dash);
    const exp = readJSON("experiment-data");
    if (exp) experiment(exp);
    const box = document.getElementById("run-progress");
    if (box) followRun(box);
  });
})();
