// The rule editor's preview: after each change (debounced), the form is posted to the
// preview endpoint, which backtests it over stored data; the answer is charted with the
// threshold lines and the intervals the rule would have been firing.
(function () {
  "use strict";
  const form = document.getElementById("rule-form");
  const chart = document.getElementById("preview-chart");
  const count = document.getElementById("preview-count");
  const errors = document.getElementById("preview-errors");
  if (!form || !chart || typeof Plotly === "undefined") return;
  let timer = null;
  let sequence = 0;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 700);
  }

  async function refresh() {
    const mine = ++sequence;
    count.textContent = "Backtesting…";
    let response;
    try {
      response = await fetch(form.dataset.previewUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" });
    } catch (error) {
      count.textContent = "The preview could not reach Opsboard.";
      return;
    }
    if (mine !== sequence) return; // a newer edit is on its way
    const body = await response.json().catch(() => ({}));
    if (response.status === 400) return showErrors(body.errors || {});
    if (!response.ok) {
      count.textContent = "The preview failed (HTTP " + response.status + ").";
      return;
    }
    errors.replaceChildren();
    draw(body);
  }

  function showErrors(byField) {
    count.textContent = "Fix the settings to see a preview.";
    errors.replaceChildren(
      ...Object.entries(byField).flatMap(([field, messages]) =>
        messages.map((message) => {
          const item = document.createElement("li");
          item.textContent = field + ": " + message;
          return item;
        })
      )
    );
  }

  // Plotly reads a subset of HTML in trace names: label values are escaped to stay text.
  function plotlyText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function draw(body) {
    const traces = body.series.map((series) => ({
      x: series.t.map((t) => new Date(t)),
      y: series.v,
      name: plotlyText(series.name),
      mode: "lines",
      line: { width: 1.5 },
    }));
    const end = Date.now();
    const shapes = body.firing.map(([start, stop]) => ({
      type: "rect", xref: "x", yref: "paper", x0: new Date(start), x1: new Date(stop || end),
      y0: 0, y1: 1, fillcolor: "rgba(198, 40, 40, 0.15)", line: { width: 0 },
    }));
    for (const line of body.lines) {
      if (line.value === null || line.value === undefined) continue;
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: line.value, y1: line.value,
        line: { color: "#c62828", dash: "dash", width: 1 } });
    }
    Plotly.react(chart, traces, {
      margin: { l: 50, r: 10, t: 10, b: 40 }, showlegend: traces.length > 1, legend: { orientation: "h" },
      shapes: shapes, xaxis: { type: "date" },
    }, { responsive: true, displaylogo: false });
    count.textContent = traces.length
      ? "Over the last 7 days it would have fired " + body.fired_7d + " time" + (body.fired_7d === 1 ? "" : "s") +
        " (" + body.alerts_7d + " label set" + (body.alerts_7d === 1 ? "" : "s") + ")."
      : "No stored data matches this expression yet.";
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  schedule();
})();
