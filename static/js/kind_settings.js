// Show only the settings of the kind chosen in the target form.
(function () {
  "use strict";
  const form = document.getElementById("target-form");
  if (!form) return;
  const kind = form.querySelector("[name=kind]");
  function showKind() {
    for (const fieldset of form.querySelectorAll("fieldset.kind-settings")) {
      fieldset.hidden = fieldset.dataset.kind !== kind.value;
    }
  }
  kind.addEventListener("change", showKind);
  showKind();
})();
