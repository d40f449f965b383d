// Show only the settings of the kind chosen in a form: a target's kind, a rule's condition kind.
(function () {
  "use strict";
  const form = document.getElementById("target-form") || document.getElementById("rule-form");
  if (!form) return;
  const kind = form.querySelector("[name=kind], [name=condition_kind]");
  function showKind() {
    for (const fieldset of form.querySelectorAll("fieldset.kind-settings")) {
      fieldset.hidden = fieldset.dataset.kind !== kind.value;
    }
  }
  kind.addEventListener("change", showKind);
  showKind();
})();
