// Baton console: asks before destructive forms (those with data-confirm) are sent.
// Everything else works without this file; live parts are polled by htmx.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
