// The console's reports pages (loaded by those pages only): a run form, once sent, cannot be
// sent twice by a second click while the next page loads.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.id !== "run-form" || event.defaultPrevented) {
    return;
  }
  var button = form.querySelector("button[type=submit]");
  if (button) {
    window.setTimeout(function () { button.disabled = true; }, 0);
  }
});
