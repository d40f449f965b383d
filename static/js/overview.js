// The Overview refreshes its figures every 15 s (every 60 s while the tab is hidden).
(function () {
  "use strict";
  const box = document.getElementById("overview-live");
  const note = document.getElementById("refreshed");
  if (!box) return;
  let last = Date.now();

  async function refresh() {
    const hidden = document.visibilityState === "hidden";
    if (hidden && Date.now() - last < 60000) return;
    try {
      const response = await fetch(box.dataset.refreshUrl, { credentials: "same-origin" });
      if (response.status === 200) {
        box.innerHTML = await response.text();
        last = Date.now();
        note.textContent = "updated " + new Date(last).toLocaleTimeString();
      } else if (response.status === 302 || response.redirected) {
        window.location.reload();
      } else {
        note.textContent = "refresh failed (HTTP " + response.status + "); retrying";
      }
    } catch (error) {
      note.textContent = "Opsboard unreachable; retrying";
    }
  }
  setInterval(refresh, 15000);
})();
