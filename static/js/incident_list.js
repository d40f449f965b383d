// The incident list refreshes itself whenever an incident changes (told over the
// WebSocket by incidents_badge.js), so a new incident appears without a reload.
(function () {
  "use strict";
  const box = document.getElementById("incident-table");
  const indicator = document.getElementById("incidents-live");
  if (!box) return;
  let pending = null;

  async function refresh() {
    pending = null;
    try {
      const response = await fetch(box.dataset.refreshUrl, { credentials: "same-origin" });
      if (response.ok) box.innerHTML = await response.text();
    } catch (error) {
      // the socket's reconnect brings the next refresh
    }
  }

  document.addEventListener("opsboard:incidents", () => {
    if (pending === null) pending = setTimeout(refresh, 100);
  });
  function show(state) {
    indicator.dataset.state = state;
    indicator.textContent = state;
  }

  document.addEventListener("opsboard:incidents-socket", (event) => {
    show(event.detail.state);
    if (event.detail.state === "live") refresh(); // catch up on what changed while disconnected
  });
  if (document.documentElement.dataset.incidentsSocket) show(document.documentElement.dataset.incidentsSocket);
})();
