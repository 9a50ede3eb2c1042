/* Retail sales dashboard: draws the charts and follows ETL runs.
 * Loaded as an external file (the CSP allows no inline script); the page works without it. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var POLL_MS = 1000;
  var MAX_POLL_MS = 10000;
  var RELOAD_DELAY_MS = 1500;
  var moneyFormat = new Intl.NumberFormat("en-GB", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  var compactFormat = new Intl.NumberFormat("en-GB", {
    notation: "compact",
    maximumFractionDigits: 1,
  });
  var countFormat = new Intl.NumberFormat("en-GB");

  function readJson(id) {
    var element = document.getElementById(id);
    if (!element) return null;
    try {
      return JSON.parse(element.textContent);
    } catch (error) {
      return null;
    }
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  /* ---- Charts ---------------------------------------------------------------------- */

  function chartOptions(horizontal) {
    var valueAxis = {
      beginAtZero: true,
      ticks: {
        callback: function (value) {
          return compactFormat.format(value);
        },
      },
    };
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : undefined,
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: function (context) {
              var value = horizontal ? context.parsed.x : context.parsed.y;
              return "Revenue " + moneyFormat.format(value);
            },
          },
        },
      },
      scales: {},
    };
    if (horizontal) {
      options.indexAxis = "y";
      options.scales.x = valueAxis;
    } else {
      options.scales.y = valueAxis;
    }
    return options;
  }

  function drawCharts() {
    var data = readJson("chart-data");
    if (!data || typeof window.Chart === "undefined") return;
    var trendCanvas = document.getElementById("revenue-chart");
    if (trendCanvas && data.trend && data.trend.labels.length) {
      var color = cssVar("--chart-1", "#1d4ed8");
      new window.Chart(trendCanvas, {
        type: data.trend.grouping === "day" && data.trend.labels.length > 1 ? "line" : "bar",
        data: {
          labels: data.trend.labels,
          datasets: [
            {
              label: "Revenue",
              data: data.trend.values.map(Number),
              borderColor: color,
              backgroundColor: data.trend.grouping === "day" ? color + "33" : color,
              fill: data.trend.grouping === "day",
              pointRadius: data.trend.labels.length > 60 ? 0 : 3,
              cubicInterpolationMode: "monotone",
            },
          ],
        },
        options: chartOptions(false),
      });
    }
    var countryCanvas = document.getElementById("country-chart");
    if (countryCanvas && data.countries && data.countries.labels.length) {
      var base = cssVar("--chart-2", "#0f766e");
      var highlight = cssVar("--chart-3", "#b45309");
      var selected = data.countries.selected;
      new window.Chart(countryCanvas, {
        type: "bar",
        data: {
          labels: data.countries.labels,
          datasets: [
            {
              label: "Revenue",
              data: data.countries.values.map(Number),
              backgroundColor: data.countries.labels.map(function (label) {
                return label === selected ? highlight : base;
              }),
            },
          ],
        },
        options: chartOptions(true),
      });
    }
  }

  /* ---- Runs -------------------------------------------------------------------------- */

  var progress = document.getElementById("run-progress");
  var forms = Array.prototype.slice.call(document.querySelectorAll("form.run-form"));
  var buttons = forms.map(function (form) {
    return form.querySelector("button[type=submit]");
  });
  var busy = false;
  var followed = null;
  var sawActive = false;
  var failures = 0;

  function setBusy(value) {
    busy = value;
    buttons.forEach(function (button) {
      button.disabled = value;
    });
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function statusUrl(runId) {
    return progress.getAttribute("data-status-url").replace(/0\.json$/, runId + ".json");
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showMessage(kind, text) {
    progress.classList.remove("is-empty");
    progress.replaceChildren(element("p", "notice notice-" + kind, text));
  }

  var SYMBOLS = { succeeded: "✓", failed: "✗", running: "▶", queued: "…" };

  function badge(status) {
    var span = element("span", "badge badge-" + (SYMBOLS[status] ? status : "unknown"));
    var symbol = element("span", "", SYMBOLS[status] || "?");
    symbol.setAttribute("aria-hidden", "true");
    span.append(symbol, " " + status);
    return span;
  }

  function count(value) {
    return typeof value === "number" ? countFormat.format(value) : "–";
  }

  function showRun(run, note) {
    var parts = [];
    if (note) parts.push(element("p", "notice notice-info", note));
    var line = element("p");
    line.append(element("strong", "", "Run #" + run.id), " (" + run.mode + "): ", badge(run.status));
    if (!run.finished) line.append(" — stage " + run.stage);
    line.append(
      " · " + count(run.rows_extracted) + " rows extracted, " + count(run.rows_rejected) +
        " rejected, " + count(run.rows_loaded) + " loaded"
    );
    if (typeof run.duration_seconds === "number") {
      line.append(" · " + run.duration_seconds.toFixed(1) + " s");
    }
    parts.push(line);
    if (run.error) parts.push(element("p", "run-error", run.error));
    if (run.full_reason && run.mode !== "full") {
      parts.push(element("p", "run-reason", "Rebuilt in full: " + run.full_reason));
    }
    if (typeof run.days_differing === "number") {
      parts.push(element("p", "run-verify", count(run.days_differing) + " day(s) differed from the source"));
    }
    if (run.finished && sawActive) parts.push(element("p", "hint", "Refreshing the figures…"));
    progress.classList.remove("is-empty");
    progress.replaceChildren.apply(progress, parts);
  }

  function reloadFollowing(runId) {
    var url = new URL(window.location.href);
    url.searchParams.set("run", String(runId));
    window.location.assign(url.toString());
  }

  function poll(note) {
    fetch(statusUrl(followed), { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        return response.json().then(function (body) {
          return { response: response, body: body };
        });
      })
      .then(function (result) {
        if (result.response.status === 404) {
          showMessage("error", result.body.error.message);
          setBusy(false);
          return;
        }
        if (!result.response.ok) throw new Error(result.body.error.message);
        failures = 0;
        var run = result.body;
        if (run.finished) {
          showRun(run, note);
          if (sawActive) {
            window.setTimeout(reloadFollowing, RELOAD_DELAY_MS, run.id);
          } else {
            setBusy(false);
          }
          return;
        }
        sawActive = true;
        showRun(run, note);
        window.setTimeout(poll, POLL_MS, note);
      })
      .catch(function () {
        failures += 1;
        showMessage(
          "warning",
          "Lost contact with the backend while following run #" + followed + "; retrying…"
        );
        window.setTimeout(poll, Math.min(POLL_MS * Math.pow(2, failures), MAX_POLL_MS), note);
      });
  }

  function follow(runId, note) {
    followed = runId;
    setBusy(true);
    poll(note);
  }

  function startRun(event) {
    event.preventDefault();
    if (busy) return;
    var form = event.currentTarget;
    setBusy(true);
    showMessage("info", "Starting the run…");
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (body) {
            if (response.ok && body.run_id) {
              // 202: our run started; 200 with already_running: another run is going, follow it.
              sawActive = true;
              follow(body.run_id, body.already_running ? body.message : null);
            } else {
              var message = body.error && body.error.message;
              showMessage("error", message || "The run could not be started (HTTP " + response.status + ").");
              setBusy(false);
            }
          });
      })
      .catch(function () {
        showMessage("error", "The dashboard could not be reached. Check the connection and try again.");
        setBusy(false);
      });
  }

  function initRuns() {
    if (!progress) return;
    forms.forEach(function (form) {
      form.addEventListener("submit", startRun);
    });
    var runId = progress.getAttribute("data-run-id");
    var status = progress.getAttribute("data-run-status");
    if (runId && (status === "queued" || status === "running")) {
      sawActive = true;
      follow(Number(runId), null);
    }
  }

  drawCharts();
  initRuns();
})();
