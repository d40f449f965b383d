// The charts of the Model, Node, Run and Explore pages, drawn with plotly.js from the panels in
// #charts-data. Each panel fetches its traces over the query API at about one point per pixel,
// is extended by the live socket (raw traces take its points, expressions re-query their newest
// steps), and backfills over HTTP after every (re)connect and on resume. The page's address holds
// the time range (?range=1h, or ?from=&to= in Unix seconds), so it reproduces the view.
(function () {
  "use strict";

  const Opsboard = (window.Opsboard = window.Opsboard || {});
  const dataNode = document.getElementById("charts-data");
  if (!dataNode || typeof window.Plotly === "undefined") return;
  const Plotly = window.Plotly;
  const config = JSON.parse(dataNode.textContent);

  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  const RANGES = { "15m": 15 * MINUTE, "1h": HOUR, "6h": 6 * HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY };
  const BAND_OVER_MS = DAY; // wider ranges draw each raw gauge as a min–max band from the rollups
  const RAW_KEPT_MS = 15 * DAY - HOUR; // RETENTION_RAW_DAYS' default, less a margin
  const REQUERY_STEPS = 3; // an expression's newest steps change while their windows fill
  const REFRESH_GAP_MS = 1000; // an expression re-queries at most once a second…
  const HIDDEN_REFRESH_GAP_MS = 10000; // …and far less in a hidden tab
  const WATCH_SETTLE_MS = 1200; // writers read the watched names at most once a second
  const BACKFILL_MAX_POINTS = 10000; // backfilled raw samples come back unthinned
  const SLIDE_MS = 15000; // a relative window moves on even when no point comes (a silent target)
  const MARGIN = { l: 56, r: 16, t: 8, b: 30 };
  const PALETTE = ["#2457c5", "#d9480f", "#1f8a4c", "#8e44ad", "#c2255c", "#0b7285", "#b26a00", "#495057", "#5c940d", "#e8590c"];
  const INK = "#1c2330";
  const GRID = "#e6e9ef";
  const PLOT_CONFIG = {
    responsive: true,
    displaylogo: false,
    scrollZoom: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "zoomIn2d", "zoomOut2d"],
  };

  const charts = {};
  const page = {
    view: null, // {kind: "relative", name, span} or {kind: "absolute", from, to}, in ms
    base: null, // the view the buttons or the form chose: a double-click returns to it
    xaxis: "time", // or "step" on run pages
    overlays: new Map(), // run id → run name
    steps: new Map(), // run id → {ts: [], steps: []}, for the step axis
    socket: null,
    stepRedraw: null,
    resetAt: 0,
  };
  Opsboard.charts = charts;
  Opsboard.page = page;

  // --- Small helpers -------------------------------------------------------------------

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function labelKey(labels) {
    return Object.keys(labels)
      .sort()
      .map((k) => k + "=" + labels[k])
      .join(",");
  }

  function withoutName(labels) {
    const copy = Object.assign({}, labels);
    delete copy.__name__;
    return copy;
  }

  // "GPU 10" after "GPU 9": numbers inside label values compare as numbers.
  const collator = new Intl.Collator("en", { numeric: true });

  function numberOf(text) {
    const value = typeof text === "number" ? text : parseFloat(text);
    return Number.isFinite(value) ? value : null; // NaN and ±Inf are drawn as gaps
  }

  // The first index whose value is >= ts (binary search over sorted timestamps).
  function lowerBound(sorted, ts) {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Plotly reads a subset of HTML in trace names (<b>, <a href>, entities): names made of
  // label values are escaped, so that they are drawn as the text they are.
  function plotlyText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function seconds(ms) {
    return String(Math.round(ms) / 1000);
  }

  // --- The view: the time range of every chart -------------------------------------------

  function relativeView(name) {
    return { kind: "relative", name: name, span: RANGES[name] };
  }

  function viewFromUrl() {
    const params = new URLSearchParams(window.location.search);
    const from = parseFloat(params.get("from"));
    const to = parseFloat(params.get("to"));
    if (Number.isFinite(from) && Number.isFinite(to) && to > from) {
      return { kind: "absolute", from: from * 1000, to: to * 1000 };
    }
    const name = params.get("range");
    if (RANGES[name]) return relativeView(name);
    const w = config.window; // a page may open on a window of its own (an incident's hour)
    if (w && Number.isFinite(w.from) && Number.isFinite(w.to) && w.to > w.from) {
      return { kind: "absolute", from: w.from * 1000, to: w.to * 1000 };
    }
    return relativeView(RANGES[config.defaultRange] ? config.defaultRange : "1h");
  }

  function viewWindow(view) {
    if (view.kind === "absolute") return { start: view.from, end: view.to };
    const end = Date.now();
    return { start: end - view.span, end: end };
  }

  function spanOf(view) {
    return view.kind === "absolute" ? view.to - view.from : view.span;
  }

  function writeUrl(view) {
    const url = new URL(window.location.href);
    if (view.kind === "relative") {
      url.searchParams.set("range", view.name);
      url.searchParams.delete("from");
      url.searchParams.delete("to");
    } else {
      url.searchParams.delete("range");
      url.searchParams.set("from", seconds(view.from));
      url.searchParams.set("to", seconds(view.to));
    }
    window.history.replaceState(window.history.state, "", url.toString());
  }

  function setView(view, options) {
    page.view = view;
    if (!options || !options.zoom) page.base = view;
    writeUrl(view);
    showView(view);
    renderAll();
  }

  // --- Traces as the page asks for them --------------------------------------------------

  function specsOf(panel) {
    const runId = config.run ? config.run.id : null;
    const specs = panel.traces.map((trace, i) => Object.assign({}, trace, { id: String(i), runId: runId }));
    page.overlays.forEach((name, otherId) => {
      panel.traces.forEach((trace, i) => specs.push(overlaySpec(trace, i, runId, otherId, name)));
    });
    return specs;
  }

  // The same trace for another run of the project: its run_id swapped, named by that run.
  function overlaySpec(trace, index, runId, otherId, name) {
    const swap = (text) => text.split('run_id="' + runId + '"').join('run_id="' + otherId + '"');
    return Object.assign({}, trace, {
      id: index + "@" + otherId,
      runId: otherId,
      name: name,
      overlay: true,
      selector: swap(trace.selector || ""),
      query: swap(trace.query || ""),
      ratio: trace.ratio ? trace.ratio.map(swap) : null,
      watch: (trace.watch || []).map(swap),
    });
  }

  // Wider than a day, or older than raw samples are kept: the rollups' min and max.
  function isBand(spec) {
    if (!spec.selector || spec.fn !== "raw") return false;
    return spanOf(page.view) > BAND_OVER_MS || viewWindow(page.view).start < Date.now() - RAW_KEPT_MS;
  }

  // Raw samples (and "last") are extended point by point; everything else re-queries.
  function isLive(spec) {
    return Boolean(spec.selector) && (spec.fn === "raw" || spec.fn === "last") && !isBand(spec);
  }

  function requestsOf(spec) {
    if (spec.ratio) return [{ role: "num", params: { query: spec.ratio[0] } }, { role: "den", params: { query: spec.ratio[1] } }];
    if (spec.query) return [{ role: "value", params: { query: spec.query } }];
    if (isBand(spec)) {
      return [
        { role: "min", params: { query: spec.selector, fn: "min" } },
        { role: "max", params: { query: spec.selector, fn: "max" } },
      ];
    }
    const params = { query: spec.selector, fn: spec.fn || "raw" };
    if (config.q !== undefined && config.q !== null) params.q = String(config.q);
    return [{ role: "value", params: params }];
  }

  // --- The query API -----------------------------------------------------------------------

  class ChartError extends Error {}

  async function queryRange(params, start, end, stepMs) {
    const search = new URLSearchParams(params);
    search.set("start", seconds(start));
    search.set("end", seconds(end));
    search.set("step", seconds(stepMs));
    let response;
    try {
      response = await fetch("/api/v1/query_range?" + search.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      throw new ChartError("Opsboard is unreachable; the chart fills in when it is back.");
    }
    return resultOf(response, await bodyOf(response));
  }

  async function bodyOf(response) {
    try {
      return await response.json();
    } catch (error) {
      return null; // an HTML page: most likely the sign-in page after the session ended
    }
  }

  function resultOf(response, body) {
    if (body && body.status === "success") return body.data.result.map(seriesOf);
    if (body && body.error) throw new ChartError(body.error);
    if (body && body.detail) throw new ChartError(body.detail);
    if (response.redirected || response.status === 401 || response.status === 403) {
      throw new ChartError("Signed out: sign in again to see this chart.");
    }
    throw new ChartError("The query failed (HTTP " + response.status + ").");
  }

  function seriesOf(entry) {
    return {
      labels: entry.metric,
      ts: entry.values.map((v) => Math.round(v[0] * 1000)),
      ys: entry.values.map((v) => numberOf(v[1])),
    };
  }

  // All series a spec draws over [start, end]: [{role, labels, ts, ys}].
  async function fetchSpec(spec, start, end, stepMs) {
    const requests = requestsOf(spec);
    const results = await Promise.all(requests.map((r) => queryRange(r.params, start, end, stepMs)));
    if (spec.ratio) return divide(results[0], results[1]);
    const out = [];
    requests.forEach((r, i) => results[i].forEach((s) => out.push(Object.assign({ role: r.role }, s))));
    return out;
  }

  // Numerator over denominator, paired by labels, point by point at equal timestamps; a
  // missing or zero denominator leaves no point.
  function divide(numerators, denominators) {
    const below = new Map(denominators.map((s) => [labelKey(withoutName(s.labels)), s]));
    const out = [];
    numerators.forEach((num) => {
      const den = below.get(labelKey(withoutName(num.labels)));
      if (!den) return;
      const byTs = new Map(den.ts.map((t, i) => [t, den.ys[i]]));
      const ts = [];
      const ys = [];
      num.ts.forEach((t, i) => {
        const d = byTs.get(t);
        if (d === undefined || d === null || d === 0) return;
        ts.push(t);
        ys.push(num.ys[i] === null ? null : num.ys[i] / d);
      });
      out.push({ role: "value", labels: withoutName(num.labels), ts: ts, ys: ys });
    });
    return out;
  }

  // --- Resolution ----------------------------------------------------------------------------

  function plotWidth(state) {
    const size = state.div._fullLayout && state.div._fullLayout._size;
    if (size && size.w > 50) return size.w;
    return Math.max(200, (state.div.clientWidth || 600) - MARGIN.l - MARGIN.r);
  }

  // About one point per pixel; steps of a minute or more are whole minutes (hours past an
  // hour), as the server rounds them to its rollups, so that every query shares one grid.
  function stepFor(state, window_) {
    const raw = Math.max(SECOND, (window_.end - window_.start) / plotWidth(state));
    if (raw >= HOUR) return Math.floor(raw / HOUR) * HOUR;
    if (raw >= MINUTE) return Math.floor(raw / MINUTE) * MINUTE;
    return Math.ceil(raw / SECOND) * SECOND;
  }

  function alignDown(ts, stepMs) {
    return Math.floor(ts / stepMs) * stepMs;
  }

  // --- Lines: one Plotly trace each, in time order -------------------------------------------

  function lineKey(spec, role, labels) {
    return spec.id + "|" + role + "|" + labelKey(labels);
  }

  function makeLine(spec, role, labels) {
    return { key: lineKey(spec, role, labels), spec: spec, role: role, labels: labels, ts: [], ys: [], name: spec.name };
  }

  // The lines of every spec, in spec order; series in natural label order; bands min then max.
  function buildLines(state, fetched) {
    const lines = [];
    state.specs.forEach((spec, i) => {
      const series = (fetched[i] || []).slice();
      series.sort((a, b) => collator.compare(labelKey(a.labels), labelKey(b.labels)) || (a.role === "min" ? -1 : 1));
      series.forEach((s) => {
        const line = makeLine(spec, s.role, s.labels);
        line.ts = s.ts;
        line.ys = s.ys;
        lines.push(line);
      });
    });
    nameLines(lines);
    return lines;
  }

  function nameLines(lines) {
    const bySpec = new Map();
    lines.forEach((line) => {
      if (!bySpec.has(line.spec.id)) bySpec.set(line.spec.id, []);
      bySpec.get(line.spec.id).push(line);
    });
    bySpec.forEach((group) => {
      const labelSets = group.map((line) => line.labels);
      group.forEach((line) => (line.name = nameOf(line.spec, line.labels, labelSets)));
    });
  }

  // The legend with {label} filled, or the trace's name plus the labels that tell series apart.
  function nameOf(spec, labels, labelSets) {
    if (spec.legend) {
      const filled = spec.legend.replace(/\{(\w+)\}/g, (_, k) => (labels[k] !== undefined ? labels[k] : ""));
      return spec.overlay ? spec.name + " " + filled : filled;
    }
    const keys = new Set(labelSets.map(labelKey));
    if (keys.size < 2) return spec.name;
    const differing = Object.keys(labels)
      .filter((k) => labelSets.some((other) => other[k] !== labels[k]))
      .sort();
    return spec.name + " " + differing.map((k) => k + "=" + labels[k]).join(", ");
  }

  // Merges points (sorted or not) into a line by timestamp: an equal timestamp replaces its
  // value, so a point seen twice (live and backfill) is drawn once. Returns how many points
  // went on the end, and whether any went elsewhere (then the trace is redrawn, not extended).
  function mergePoints(line, points) {
    const outcome = { added: 0, reordered: false };
    points.forEach((p) => {
      const ts = p[0];
      const last = line.ts.length ? line.ts[line.ts.length - 1] : -Infinity;
      if (ts > last) {
        line.ts.push(ts);
        line.ys.push(p[1]);
        outcome.added += 1;
        return;
      }
      outcome.reordered = true;
      const at = lowerBound(line.ts, ts);
      if (line.ts[at] === ts) line.ys[at] = p[1];
      else {
        line.ts.splice(at, 0, ts);
        line.ys.splice(at, 0, p[1]);
      }
    });
    return outcome;
  }

  // A relative window slides: points older than its start are dropped, so memory stays bounded.
  function trimLine(line, start) {
    const first = lowerBound(line.ts, start);
    if (first > 0) {
      line.ts.splice(0, first);
      line.ys.splice(0, first);
    }
    return first;
  }

  // --- Drawing ---------------------------------------------------------------------------------

  // Tick labels carry the unit where d3 can format it (2GB, 250ms, 80%); others name it in the
  // axis title.
  function unitStyle(unit) {
    if (unit === "bytes") return { axis: { tickformat: "~s", ticksuffix: "B" }, hover: "%{y:.4~s}B", titled: false };
    if (unit === "bytes/s") return { axis: { tickformat: "~s", ticksuffix: "B/s" }, hover: "%{y:.4~s}B/s", titled: false };
    if (unit === "s") return { axis: { tickformat: "~s", ticksuffix: "s" }, hover: "%{y:.3~s}s", titled: false };
    if (unit === "ratio") return { axis: { tickformat: ".0%" }, hover: "%{y:.1%}", titled: false };
    if (unit === "%") return { axis: { ticksuffix: "%" }, hover: "%{y:.1f}%", titled: false };
    return { axis: {}, hover: "%{y:.4~g}" + (unit ? " " + unit : ""), titled: Boolean(unit) };
  }

  function colorOf(state, line) {
    const groups = state.colorGroups;
    const group = line.spec.id + "|" + labelKey(line.labels);
    if (!groups.has(group)) groups.set(group, PALETTE[groups.size % PALETTE.length]);
    return groups.get(group);
  }

  function xValues(line) {
    if (page.xaxis !== "step") return { x: line.ts.slice(), y: line.ys.slice() };
    return toSteps(line);
  }

  function plotlyTrace(state, line) {
    const color = colorOf(state, line);
    const xy = xValues(line);
    const hover = unitStyle(state.panel.unit).hover;
    const trace = {
      type: "scatter",
      mode: xy.x.length < 3 ? "lines+markers" : "lines",
      name: plotlyText(line.name),
      x: xy.x,
      y: xy.y,
      connectgaps: false,
      line: { color: color, width: line.role === "min" || line.role === "max" ? 1 : 1.6 },
      marker: { size: 4, color: color },
      hovertemplate: "%{fullData.name}: " + hover + "<extra></extra>",
      legendgroup: line.spec.id + "|" + labelKey(line.labels),
    };
    if (line.spec.overlay) trace.line.dash = "dot";
    if (line.role === "min") {
      trace.showlegend = false;
      trace.hovertemplate = "%{fullData.name} min: " + hover + "<extra></extra>";
    } else if (line.role === "max") {
      trace.fill = "tonexty"; // down to the min line just before it
      trace.fillcolor = color + "33";
      trace.hovertemplate = "%{fullData.name} max: " + hover + "<extra></extra>";
    }
    return trace;
  }

  function xaxisLayout(state) {
    const common = { gridcolor: GRID, linecolor: "#c5cad3", ticks: "outside", tickcolor: "#c5cad3", automargin: true };
    if (page.xaxis === "step") return Object.assign(common, { type: "linear", title: { text: "step", standoff: 4 } });
    return Object.assign(common, {
      type: "date",
      range: timeRange(state),
      hoverformat: "%Y-%m-%d %H:%M:%S UTC",
    });
  }

  // A run began at some time: its relative window starts no earlier than its first point, so
  // an hour-old run fills the chart instead of the last 24th of it.
  function timeRange(state) {
    if (!config.run || page.view.kind !== "relative") return [state.start, state.end];
    const firsts = state.lines.filter((line) => line.ts.length).map((line) => line.ts[0]);
    if (!firsts.length) return [state.start, state.end];
    const first = Math.min.apply(null, firsts);
    return [Math.max(state.start, first - (state.end - first) * 0.01), state.end];
  }

  function layoutOf(state) {
    const unit = state.panel.unit;
    return {
      autosize: true,
      margin: MARGIN,
      paper_bgcolor: "#fff",
      plot_bgcolor: "#fff",
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 11, color: INK },
      hovermode: "x unified",
      hoverlabel: { bgcolor: "#fff", bordercolor: "#c5cad3", font: { color: INK } },
      dragmode: "zoom",
      showlegend: true,
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1, yanchor: "bottom", font: { size: 11 }, bgcolor: "rgba(0,0,0,0)" },
      xaxis: xaxisLayout(state),
      shapes: marks().map(markLine),
      annotations: marks().map(markLabel),
      yaxis: Object.assign(
        {
          title: { text: unitStyle(unit).titled ? unit : "", standoff: 6, font: { size: 11, color: "#5d6778" } },
          gridcolor: GRID,
          zerolinecolor: "#c5cad3",
          fixedrange: true, // a drag zooms time only
          automargin: true,
          rangemode: unit === "ratio" || unit === "%" ? "tozero" : "normal",
        },
        unitStyle(unit).axis
      ),
    };
  }

  // Moments a page marks on its time axis (e.g. when an incident fired): {at: unix s, label}.
  function marks() {
    return page.xaxis === "time" && Array.isArray(config.marks) ? config.marks : [];
  }

  function markLine(mark) {
    const x = mark.at * 1000;
    return { type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, line: { color: "#c62828", width: 1, dash: "dash" } };
  }

  function markLabel(mark) {
    return {
      x: mark.at * 1000,
      xref: "x",
      y: 1,
      yref: "paper",
      text: mark.label || "",
      showarrow: false,
      xanchor: "left",
      yanchor: "top",
      font: { size: 10, color: "#c62828" },
    };
  }

  async function drawFull(state) {
    const traces = state.lines.map((line) => plotlyTrace(state, line));
    if (!state.plotted) {
      await Plotly.newPlot(state.div, traces, layoutOf(state), PLOT_CONFIG);
      state.plotted = true;
      state.div.on("plotly_relayout", (event) => onRelayout(state, event));
      // Plotly's own double-click returns to the first range it drew; ours is the chosen range.
      state.div.on("plotly_doubleclick", () => resetZoom());
    } else {
      await Plotly.react(state.div, traces, layoutOf(state), PLOT_CONFIG);
    }
  }

  // New points of some lines. Where they only went on the end, Plotly extends the traces and
  // drops as many old points as the lines dropped (maxPoints), and a relative window slides.
  // Anything else (a point in the middle, a new series) redraws the chart with Plotly.react:
  // restyling x would make Plotly forget the axis type and take the ms numbers as linear.
  function drawChanges(state, changes, source) {
    if (!changes.size) return;
    const extend = { x: [], y: [], indices: [], max: [] };
    let redraw = changes.has("*") || document.visibilityState === "hidden";
    changes.forEach((change, line) => {
      if (!redraw && line !== "*") redraw = !addExtension(state, line, change, extend);
    });
    if (document.visibilityState === "hidden") {
      state.dirty = true; // drawn when the tab is shown again (hidden tabs slow down)
      return;
    }
    if (redraw) {
      flush(state, source);
      return;
    }
    if (extend.indices.length) {
      Plotly.extendTraces(state.div, { x: extend.x, y: extend.y }, extend.indices, { x: extend.max, y: extend.max });
    }
    const slid = slidLayout(state);
    if (slid) Plotly.relayout(state.div, slid);
    announce(state, Array.from(changes.keys()), source);
  }

  // Whether the line's change is an extension of its trace (then added to ``extend``).
  function addExtension(state, line, change, extend) {
    const index = state.lines.indexOf(line);
    const trace = index < 0 ? null : state.div.data && state.div.data[index];
    if (!trace || page.xaxis !== "time" || change.reordered || trace.mode !== "lines") return false;
    if (change.added === 0) return true;
    if (change.added > line.ts.length) return false;
    extend.x.push(line.ts.slice(-change.added));
    extend.y.push(line.ys.slice(-change.added));
    extend.indices.push(index);
    extend.max.push(line.ts.length);
    return true;
  }

  // The moved range of a relative window (only the range: restating the type would reset it).
  function slidLayout(state) {
    if (page.xaxis !== "time" || page.view.kind !== "relative") return null;
    const w = viewWindow(page.view);
    state.start = w.start;
    state.end = w.end;
    return { "xaxis.range": timeRange(state) };
  }

  // Only the axis moves: nothing is fetched, and a hidden tab skips it.
  function slideAll() {
    if (document.visibilityState === "hidden" || page.view.kind !== "relative" || page.xaxis !== "time") return;
    if (page.socket && page.socket.paused) return;
    Object.values(charts).forEach((state) => {
      const slid = state.ready && !state.loading && state.plotted ? slidLayout(state) : null;
      if (slid) Plotly.relayout(state.div, slid);
    });
  }

  async function flush(state, source) {
    state.dirty = false;
    if (page.view.kind === "relative" && page.xaxis === "time") {
      const w = viewWindow(page.view);
      state.start = w.start;
      state.end = w.end;
    }
    await drawFull(state);
    announce(state, state.lines, source || "live");
  }

  function announce(state, lines, source) {
    lines.forEach((line) => {
      if (!line.ts.length) return;
      const last = line.ts.length - 1;
      emit("opsboard:drawn", {
        panel: state.id,
        trace: line.name,
        lastTs: line.ts[last],
        lastValue: line.ys[last],
        source: source,
      });
    });
  }

  // --- Errors shown in the panel ------------------------------------------------------------

  function showError(state, message) {
    if (!state.error) {
      state.error = document.createElement("p");
      state.error.className = "chart-error";
      state.error.setAttribute("role", "alert");
      state.div.parentNode.insertBefore(state.error, state.div);
    }
    state.error.textContent = message;
    state.error.hidden = false;
  }

  function clearError(state) {
    if (state.error) state.error.hidden = true;
  }

  // --- Full renders ---------------------------------------------------------------------------

  async function renderPanel(state) {
    const generation = ++state.generation;
    const started = performance.now();
    state.loading = true;
    state.queue = [];
    const w = viewWindow(page.view);
    state.start = w.start;
    state.end = w.end;
    state.stepMs = stepFor(state, w);
    state.specs = specsOf(state.panel);
    const start = alignDown(w.start, state.stepMs);
    const fetches = state.specs.map((spec) => fetchSpec(spec, start, w.end, state.stepMs));
    if (page.xaxis === "step") fetches.push(loadSteps(state.specs, w).then(() => []));
    const settled = await Promise.allSettled(fetches);
    if (generation !== state.generation) return;
    const failed = settled.find((s) => s.status === "rejected");
    state.lines = buildLines(state, settled.map((s) => (s.status === "fulfilled" ? s.value : [])));
    state.queue.forEach((item) => mergeLive(state, item.spec, item.series, new Map()));
    state.queue = [];
    await drawFull(state);
    if (failed) showError(state, failed.reason.message || String(failed.reason));
    else clearError(state);
    finishRender(state, generation, started);
  }

  // A render that threw still ends: the panel shows why and takes live points again.
  function renderFailed(state, error) {
    showError(state, error.message || String(error));
    state.loading = false;
    state.ready = true;
  }

  function finishRender(state, generation, started) {
    if (generation !== state.generation) return;
    state.loading = false;
    state.ready = true;
    emit("opsboard:rendered", { panel: state.id, ms: performance.now() - started });
    announce(state, state.lines, "fetch");
    if (state.backfillPending) {
      state.backfillPending = false;
      backfill(state);
    }
  }

  function renderAll() {
    Object.values(charts).forEach((state) => {
      state.colorGroups = new Map();
      renderPanel(state).catch((error) => renderFailed(state, error));
    });
    subscribe();
  }

  // --- Live points and backfill -----------------------------------------------------------------

  function onPoints(message) {
    Object.values(charts).forEach((state) => {
      const changes = new Map();
      state.specs.forEach((spec) => {
        if (!(spec.watch || []).includes(message.selector)) return;
        if (!isLive(spec)) scheduleRefresh(state, spec);
        else if (state.loading) state.queue.push({ spec: spec, series: message.series });
        else mergeLive(state, spec, message.series, changes);
      });
      drawChanges(state, changes, "live");
    });
    if (page.xaxis === "step") takeStepPoints(message);
  }

  // Live points into their lines (new series become new lines), kept inside the window.
  function mergeLive(state, spec, series, changes) {
    const w = liveWindow();
    series.forEach((s) => {
      const points = s.points.filter((p) => p[0] >= w.start && p[0] <= w.end).map((p) => [p[0], numberOf(p[1])]);
      if (points.length) mergeInto(state, spec, "value", s.labels, points, changes);
    });
  }

  function liveWindow() {
    if (page.view.kind === "absolute") return { start: page.view.from, end: page.view.to };
    return { start: Date.now() - page.view.span, end: Infinity };
  }

  function mergeInto(state, spec, role, labels, points, changes) {
    const key = lineKey(spec, role, labels);
    let line = state.lines.find((l) => l.key === key);
    if (!line) {
      line = makeLine(spec, role, labels);
      insertLine(state, line);
      changes.set("*", { added: 0, reordered: true }); // a new trace: the whole chart is drawn again
    }
    const outcome = mergePoints(line, points);
    if (page.view.kind === "relative") trimLine(line, liveWindow().start);
    const before = changes.get(line) || { added: 0, reordered: false };
    changes.set(line, { added: before.added + outcome.added, reordered: before.reordered || outcome.reordered });
  }

  function insertLine(state, line) {
    const order = state.specs.indexOf(line.spec);
    let at = state.lines.length;
    for (let i = 0; i < state.lines.length; i += 1) {
      if (state.specs.indexOf(state.lines[i].spec) > order) {
        at = i;
        break;
      }
    }
    state.lines.splice(at, 0, line);
    nameLines(state.lines);
  }

  function scheduleRefresh(state, spec) {
    const entry = state.refresh.get(spec.id) || { last: 0, timer: null };
    state.refresh.set(spec.id, entry);
    if (entry.timer) return;
    const gap = document.visibilityState === "hidden" ? HIDDEN_REFRESH_GAP_MS : REFRESH_GAP_MS;
    const wait = Math.max(0, entry.last + gap - Date.now());
    entry.timer = window.setTimeout(() => {
      entry.timer = null;
      entry.last = Date.now();
      if (!page.socket || !page.socket.paused) refreshSpec(state, spec, "live");
    }, wait);
  }

  // Re-fetches a spec from its newest drawn point (less a step, or a few for expressions,
  // whose newest steps still change) to now, and merges by timestamp.
  async function refreshSpec(state, spec, source) {
    if (state.loading) return;
    const generation = state.generation;
    const span = refreshSpan(state, spec);
    if (!span) return;
    let fetched;
    try {
      fetched = await fetchSpec(spec, span.start, span.end, span.stepMs);
    } catch (error) {
      if (generation === state.generation) showError(state, error.message);
      return;
    }
    if (generation !== state.generation || state.loading) return;
    clearError(state);
    const changes = new Map();
    fetched.forEach((s) => {
      const points = s.ts.map((t, i) => [t, s.ys[i]]).filter((p) => p[0] >= span.keepFrom);
      if (points.length) mergeInto(state, spec, s.role, s.labels, points, changes);
    });
    drawChanges(state, changes, source);
  }

  function refreshSpan(state, spec) {
    const w = page.view.kind === "absolute" ? { start: page.view.from, end: page.view.to } : viewWindow(page.view);
    const own = state.lines.filter((line) => line.spec === spec && line.ts.length);
    const newest = own.length ? Math.min.apply(null, own.map((line) => line.ts[line.ts.length - 1])) : w.start;
    const end = page.view.kind === "absolute" ? page.view.to : Date.now();
    if (isLive(spec)) {
      // Raw samples come back unthinned, so that every missed sample is drawn.
      const start = Math.max(w.start, newest - state.stepMs);
      if (end <= start) return null;
      return { start: start, end: end, keepFrom: start, stepMs: Math.max(1, Math.ceil((end - start) / BACKFILL_MAX_POINTS)) };
    }
    const start = alignDown(Math.max(w.start, newest - REQUERY_STEPS * state.stepMs), state.stepMs);
    if (end <= start) return null;
    return { start: start, end: end, keepFrom: start, stepMs: state.stepMs };
  }

  function backfill(state) {
    if (!state.ready || state.loading) {
      state.backfillPending = true; // after the render in progress
      return;
    }
    if (page.view.kind === "absolute" && page.view.to < Date.now() - state.stepMs) return; // a closed past range
    state.specs.forEach((spec) => refreshSpec(state, spec, "fetch"));
  }

  function backfillAll() {
    Object.values(charts).forEach(backfill);
  }

  // The first subscription backfills once the writers see the new names (the initial fetch
  // may have run before the subscription); a reconnect backfills at once and again then.
  function onSubscribed(info) {
    if (!info.first) backfillAll();
    window.setTimeout(backfillAll, WATCH_SETTLE_MS);
  }

  function subscribe() {
    if (!page.socket) return;
    const selectors = new Set();
    Object.values(charts).forEach((state) =>
      specsOf(state.panel).forEach((spec) => (spec.watch || []).forEach((s) => selectors.add(s)))
    );
    if (page.xaxis === "step") stepRuns().forEach((id) => selectors.add(stepSelector(id)));
    page.socket.subscribe(Array.from(selectors));
  }

  // --- Zoom -----------------------------------------------------------------------------------

  function rangeEdge(value) {
    if (typeof value === "number") return value;
    const text = String(value).trim().replace(" ", "T");
    return Date.parse(/Z$|[+-]\d\d:?\d\d$/.test(text) ? text : text + "Z"); // Plotly's dates are UTC
  }

  function onRelayout(state, event) {
    if (page.xaxis !== "time") return;
    if (event["xaxis.autorange"]) {
      resetZoom();
      return;
    }
    const a = event["xaxis.range[0]"];
    const b = event["xaxis.range[1]"];
    if (a === undefined || b === undefined) return; // our own slides set "xaxis.range"
    const from = Math.floor(rangeEdge(a) / SECOND) * SECOND;
    const to = Math.ceil(rangeEdge(b) / SECOND) * SECOND;
    if (!(to > from)) return;
    setView({ kind: "absolute", from: from, to: to }, { zoom: true });
  }

  function resetZoom() {
    if (page.xaxis !== "time" || Date.now() - page.resetAt < 300) return; // one double-click, one reset
    page.resetAt = Date.now();
    setView(page.base || viewFromUrl());
  }

  // --- The step axis of run pages -------------------------------------------------------------

  function stepRuns() {
    return config.run ? [config.run.id].concat(Array.from(page.overlays.keys())) : [];
  }

  function stepSelector(runId) {
    return 'train_step{run_id="' + runId + '"}';
  }

  // The step tables of the runs shown; one fetch per run and window, shared by the panels.
  function loadSteps(specs, w) {
    const runs = Array.from(new Set(specs.map((spec) => spec.runId).filter(Boolean)));
    return Promise.all(runs.map((id) => stepTable(id, w)));
  }

  function stepTable(runId, w) {
    const known = page.steps.get(runId);
    if (known && known.start <= w.start && known.end >= w.end - MINUTE) return known.loaded;
    const table = { ts: [], steps: [], start: w.start, end: w.end, loaded: null };
    const stepMs = Math.max(1, Math.ceil((w.end - w.start) / BACKFILL_MAX_POINTS));
    table.loaded = queryRange({ query: stepSelector(runId), fn: "raw" }, w.start, w.end, stepMs).then((series) => {
      if (series.length) {
        table.ts = series[0].ts;
        table.steps = series[0].ys;
      }
    });
    page.steps.set(runId, table);
    return table.loaded;
  }

  // Each point at the step logged at the same time, or the nearest before it.
  function toSteps(line) {
    const table = page.steps.get(line.spec.runId) || { ts: [], steps: [] };
    const x = [];
    const y = [];
    line.ts.forEach((t, i) => {
      const at = lowerBound(table.ts, t);
      const index = table.ts[at] === t ? at : at - 1;
      if (index < 0 || table.steps[index] === null) return;
      x.push(table.steps[index]);
      y.push(line.ys[i]);
    });
    return { x: x, y: y };
  }

  function takeStepPoints(message) {
    const runId = stepRuns().find((id) => stepSelector(id) === message.selector);
    const table = runId && page.steps.get(runId);
    if (!table) return;
    const line = { ts: table.ts, ys: table.steps };
    message.series.forEach((s) => mergePoints(line, s.points.map((p) => [p[0], numberOf(p[1])])));
    // Redrawn at most once a second: a step point may come after the points it numbers.
    if (!page.stepRedraw) {
      page.stepRedraw = window.setTimeout(() => {
        page.stepRedraw = null;
        Object.values(charts).forEach((state) => state.ready && !state.loading && flush(state, "live"));
      }, REFRESH_GAP_MS);
    }
  }

  function setXAxis(mode) {
    page.xaxis = mode;
    page.steps.clear();
    renderAll();
  }

  // --- Controls -------------------------------------------------------------------------------

  function showView(view) {
    document.querySelectorAll("button.range[data-range]").forEach((button) => {
      const current = view.kind === "relative" && button.dataset.range === view.name;
      button.setAttribute("aria-pressed", current ? "true" : "false");
    });
    const hidden = document.querySelector("form input[type=hidden][name=range]");
    if (hidden) hidden.value = view.kind === "relative" ? view.name : "";
    const form = document.getElementById("custom-range");
    if (form && view.kind === "absolute") {
      form.elements.from.value = utcInput(view.from);
      form.elements.to.value = utcInput(view.to);
    }
  }

  function utcInput(ms) {
    return new Date(ms).toISOString().slice(0, 19);
  }

  function fromUtcInput(value) {
    return value ? Date.parse(value.length === 16 ? value + ":00Z" : value + "Z") : NaN;
  }

  function bindControls() {
    document.querySelectorAll("button.range[data-range]").forEach((button) =>
      button.addEventListener("click", () => setView(relativeView(button.dataset.range)))
    );
    const form = document.getElementById("custom-range");
    if (form) form.addEventListener("submit", (event) => customRange(event, form));
    document.querySelectorAll("input[name=xaxis]").forEach((radio) =>
      radio.addEventListener("change", () => radio.checked && setXAxis(radio.value))
    );
    document.querySelectorAll("#overlay-runs input[type=checkbox]").forEach((box) =>
      box.addEventListener("change", () => toggleOverlay(box))
    );
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      Object.values(charts).forEach((state) => state.dirty && !state.loading && flush(state, "live"));
    });
  }

  function customRange(event, form) {
    event.preventDefault();
    const from = fromUtcInput(form.elements.from.value);
    const to = fromUtcInput(form.elements.to.value);
    if (!(Number.isFinite(from) && Number.isFinite(to) && to > from)) {
      form.elements.to.setCustomValidity("Choose a start before the end.");
      form.reportValidity();
      return;
    }
    form.elements.to.setCustomValidity("");
    setView({ kind: "absolute", from: from, to: to });
  }

  function toggleOverlay(box) {
    if (box.checked) page.overlays.set(box.value, box.dataset.name || box.value);
    else page.overlays.delete(box.value);
    renderAll();
  }

  // --- Start ---------------------------------------------------------------------------------

  function createStates() {
    const panels = new Map(config.panels.map((panel) => [panel.id, panel]));
    document.querySelectorAll("section.panel[data-panel]").forEach((section) => {
      const panel = panels.get(section.dataset.panel);
      const div = section.querySelector("div.chart");
      if (!panel || !div) return;
      charts[panel.id] = {
        id: panel.id,
        panel: panel,
        section: section,
        div: div,
        specs: specsOf(panel),
        lines: [],
        queue: [],
        refresh: new Map(),
        colorGroups: new Map(),
        generation: 0,
        stepMs: SECOND,
        start: 0,
        end: 0,
        loading: false,
        ready: false,
        plotted: false,
        dirty: false,
        backfillPending: false,
        error: null,
      };
    });
  }

  function startSocket() {
    if (!Opsboard.LiveSocket) return;
    page.socket = new Opsboard.LiveSocket({
      indicator: document.getElementById("live-indicator"),
      toggle: document.getElementById("live-toggle"),
      onPoints: onPoints,
      onSubscribed: onSubscribed,
      onResume: backfillAll,
    });
    Opsboard.live = page.socket;
  }

  function start() {
    page.view = page.base = viewFromUrl();
    showView(page.view);
    createStates();
    bindControls();
    startSocket();
    renderAll();
    if (page.socket) page.socket.start();
    window.setInterval(slideAll, SLIDE_MS);
  }

  start();
})();
