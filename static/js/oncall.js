// Channel and contact method forms: show only the settings of the chosen kind.
// Without this script every kind's settings show, and only the chosen kind's are used.
(function () {
  "use strict";
  for (const form of document.querySelectorAll("form[data-kind-form]")) {
    const kind = form.querySelector("[name=kind]");
    if (!kind) continue;
    const show = function () {
      for (const fieldset of form.querySelectorAll("fieldset.kind-settings")) {
        fieldset.hidden = fieldset.dataset.kind !== kind.value;
      }
    };
    kind.addEventListener("change", show);
    show();
  }
})();
