// The navigation's count of open incidents, kept live over /ws/incidents. Pages that show
// incidents listen to the "opsboard:incidents" event this dispatches on every change.
(function () {
  "use strict";
  const badge = document.getElementById("incident-count");
  let backoff = 500; // doubles while reconnecting fails; back to 500 ms once a message arrives
  let live = false;

  function announce(state) {
    // kept on <html> too, for scripts that load after the socket opened
    document.documentElement.dataset.incidentsSocket = state;
    document.dispatchEvent(new CustomEvent("opsboard:incidents-socket", { detail: { state: state } }));
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + "/ws/incidents");
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "incidents") return;
      if (!live) {
        // the server sends the first message once it has this socket in its group:
        // from here on no change is missed
        live = true;
        backoff = 500;
        announce("live");
      }
      if (badge) {
        badge.textContent = String(message.open);
        badge.classList.toggle("nonzero", message.open > 0);
      }
      document.dispatchEvent(new CustomEvent("opsboard:incidents", { detail: message }));
    });
    socket.addEventListener("close", (event) => {
      live = false;
      announce("reconnecting");
      if (event.code === 4401 || event.code === 4403) return; // signed out or not allowed: stay quiet
      setTimeout(connect, backoff * (0.5 + Math.random() / 2));
      backoff = Math.min(backoff * 2, 30000);
    });
  }
  connect();
})();
