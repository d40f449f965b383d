// The live connection of a chart page: one WebSocket to /ws/live. It subscribes to the page's
// selectors, pings to stay watched, reconnects with backoff, and shows its state in
// #live-indicator. The charts receive the points and are told when to backfill over HTTP
// (after each subscription and on resume), because the socket alone never says what was missed.
(function () {
  "use strict";

  const Opsboard = (window.Opsboard = window.Opsboard || {});

  const FIRST_DELAY_MS = 500;
  const MAX_DELAY_MS = 30000;
  const PING_MS = 30000;
  const HIDDEN_PING_MS = 60000; // hidden tabs slow down
  const PONG_TIMEOUT_MS = 10000; // a half-open connection answers nothing: drop it and reconnect
  const CLOSE_NO_PONG = 4000;
  const STOP_CODES = { 4401: "signed out", 4403: "not allowed" };
  // A refused handshake reaches the browser as 1006, like a server that is down. An API call
  // without parameters tells them apart cheaply: 401 signed out, 403 not allowed, else retry.
  const PROBE_URL = "/api/v1/query_range";
  const PROBE_STOPS = { 401: "signed out", 403: "not allowed" };
  const TEXT = {
    connecting: "connecting…",
    live: "live",
    paused: "paused",
    reconnecting: "reconnecting…",
    offline: "offline",
  };

  function noop() {}

  function defaultUrl() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws/live";
  }

  // Half to all of the doubled delay, so that many pages cut off together do not return together.
  function backoffDelay(attempt) {
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * Math.pow(2, attempt));
    return delay / 2 + (Math.random() * delay) / 2;
  }

  class LiveSocket {
    constructor(options) {
      const opts = options || {};
      this.url = opts.url || defaultUrl();
      this.onPoints = opts.onPoints || noop;
      this.onSubscribed = opts.onSubscribed || noop;
      this.onResume = opts.onResume || noop;
      this.probeUrl = opts.probeUrl === undefined ? PROBE_URL : opts.probeUrl;
      this.indicator = opts.indicator || null;
      this.toggle = opts.toggle || null;
      this.selectors = [];
      this.ws = null;
      this.attempt = 0;
      this.acks = 0;
      this.retryTimer = null;
      this.pongTimer = null;
      this.lastPingAt = 0;
      this.connection = "connecting";
      this.reason = "";
      this.stopped = false;
      this.paused = false;
      this.missedWhilePaused = false;
      this.bindPageEvents();
      this.bindToggle();
      this.show();
    }

    get state() {
      return this.paused && !this.stopped ? "paused" : this.connection;
    }

    start() {
      this.connect();
      window.setInterval(() => this.maybePing(), PING_MS);
    }

    // Replaces the set of selectors; sent at once when connected, else on the next connect.
    subscribe(selectors) {
      const wanted = Array.from(new Set(selectors)).sort();
      if (wanted.join("\n") === this.selectors.join("\n")) return; // e.g. a new range, same series
      this.selectors = wanted;
      this.sendSubscribe();
    }

    connect() {
      if (this.stopped) return;
      window.clearTimeout(this.retryTimer);
      this.retryTimer = null;
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (error) {
        this.scheduleReconnect();
        return;
      }
      this.ws = ws;
      ws.opened = false;
      ws.addEventListener("open", () => {
        ws.opened = true;
        this.sendSubscribe();
      });
      ws.addEventListener("message", (event) => this.receive(event));
      ws.addEventListener("close", (event) => this.closed(ws, event));
    }

    sendSubscribe() {
      this.send({ type: "subscribe", selectors: this.selectors });
    }

    send(message) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(message));
        return true;
      }
      return false;
    }

    receive(event) {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.type === "points") this.points(message);
      else if (message.type === "subscribed") this.subscribed();
      else if (message.type === "pong") window.clearTimeout(this.pongTimer);
      else if (message.type === "error") this.refused(message.message);
    }

    points(message) {
      // Paused: not drawn, but remembered as a gap that resume backfills.
      if (this.paused) {
        this.missedWhilePaused = true;
        return;
      }
      this.onPoints(message);
    }

    subscribed() {
      const first = this.acks === 0;
      this.acks += 1;
      this.attempt = 0; // only a subscription that worked resets the backoff
      this.setConnection("live", "");
      if (this.paused) this.missedWhilePaused = true;
      else this.onSubscribed({ first: first });
    }

    refused(text) {
      // The server refused the selectors: the socket is fine but nothing will come.
      this.setConnection("offline", "live updates refused: " + text);
    }

    closed(ws, event) {
      if (ws !== this.ws) return;
      this.ws = null;
      window.clearTimeout(this.pongTimer);
      const stop = STOP_CODES[event.code];
      if (stop) {
        this.stop(stop);
        return;
      }
      this.setConnection(navigator.onLine === false ? "offline" : "reconnecting", "");
      if (ws.opened || !this.probeUrl) this.scheduleReconnect();
      else this.probe();
    }

    // Signed out or not allowed: retrying would only be refused again.
    stop(reason) {
      this.stopped = true;
      window.clearTimeout(this.retryTimer);
      this.setConnection("offline", reason);
    }

    async probe() {
      let status = 0;
      try {
        const response = await fetch(this.probeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
        status = response.status;
      } catch (error) {
        status = 0; // down: the backoff goes on
      }
      if (PROBE_STOPS[status]) this.stop(PROBE_STOPS[status]);
      else this.scheduleReconnect();
    }

    scheduleReconnect() {
      if (this.stopped || this.retryTimer) return;
      const delay = backoffDelay(this.attempt);
      this.attempt += 1;
      this.retryTimer = window.setTimeout(() => this.connect(), delay);
    }

    // Waiting out a backoff is pointless once the network or the tab is back.
    reconnectNow() {
      if (this.retryTimer && !this.stopped) {
        this.attempt = 0;
        this.connect();
      }
    }

    maybePing() {
      const interval = document.visibilityState === "hidden" ? HIDDEN_PING_MS : PING_MS;
      if (Date.now() - this.lastPingAt < interval - 1000) return;
      if (!this.send({ type: "ping" })) return;
      this.lastPingAt = Date.now();
      window.clearTimeout(this.pongTimer);
      this.pongTimer = window.setTimeout(() => this.dropSilent(), PONG_TIMEOUT_MS);
    }

    dropSilent() {
      if (this.ws) this.ws.close(CLOSE_NO_PONG, "no pong");
    }

    pause() {
      this.paused = true;
      this.show();
    }

    resume() {
      this.paused = false;
      this.missedWhilePaused = false;
      this.show();
      this.onResume();
    }

    bindToggle() {
      if (!this.toggle) return;
      this.toggle.setAttribute("aria-pressed", "false");
      this.toggle.addEventListener("click", () => (this.paused ? this.resume() : this.pause()));
    }

    bindPageEvents() {
      window.addEventListener("online", () => this.reconnectNow());
      window.addEventListener("offline", () => {
        if (!this.stopped && this.connection !== "live") this.setConnection("offline", "");
      });
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") this.reconnectNow();
      });
    }

    setConnection(connection, reason) {
      this.connection = connection;
      this.reason = reason;
      this.show();
    }

    show() {
      const state = this.state;
      if (this.indicator) {
        this.indicator.dataset.state = state;
        this.indicator.textContent = state === "offline" && this.reason ? this.reason : TEXT[state];
        this.indicator.title = this.reason || TEXT[state];
      }
      if (this.toggle) {
        this.toggle.textContent = this.paused ? "Resume" : "Pause";
        this.toggle.setAttribute("aria-pressed", this.paused ? "true" : "false");
        this.toggle.disabled = this.stopped;
      }
    }
  }

  Opsboard.LiveSocket = LiveSocket;
})();
