// The console's projects pages (and every form drawn from a schema, for its list fields).
//
// - List fields (fieldset[data-repeat]): buttons to add and remove their inputs; without this
//   file the server always draws one empty input more, so a list can still grow one at a time.
// - Checked forms (form[data-checked], a task's form): what HTML constraints cannot say is
//   checked as the person types and shown by the browser's own validation before submitting:
//   numbers' minimum and maximum, the schema's patterns, how many items a list has, and that
//   a JSON editor holds a JSON object. The server checks everything again: its check counts.
"use strict";
(function () {
  function items(fieldset) {
    return Array.prototype.slice.call(fieldset.querySelectorAll(".repeat-item"));
  }

  function label(fieldset) {
    var legend = fieldset.querySelector("legend");
    return legend ? legend.firstChild.textContent.trim() : "Item";
  }

  function renumber(fieldset) {
    var all = items(fieldset);
    var max = parseInt(fieldset.getAttribute("data-max-items"), 10);
    all.forEach(function (item, index) {
      var input = item.querySelector("input");
      if (input) {
        input.setAttribute("aria-label", label(fieldset) + ", item " + (index + 1));
      }
    });
    var add = fieldset.querySelector("[data-add]");
    if (add) {
      add.disabled = !isNaN(max) && all.length >= max;
    }
  }

  function addItem(fieldset) {
    var all = items(fieldset);
    var last = all[all.length - 1];
    if (!last) {
      return;
    }
    var item = last.cloneNode(true);
    var input = item.querySelector("input");
    input.value = "";
    input.setCustomValidity("");
    last.parentNode.appendChild(item);
    renumber(fieldset);
    check(fieldset.closest("form"));
    input.focus();
  }

  function removeItem(fieldset, item) {
    if (items(fieldset).length > 1) {
      item.parentNode.removeChild(item);
    } else {
      item.querySelector("input").value = "";
    }
    renumber(fieldset);
    check(fieldset.closest("form"));
    var inputs = fieldset.querySelectorAll(".repeat-item input");
    if (inputs.length) {
      inputs[inputs.length - 1].focus();
    }
  }

  function number(text) {
    return text.trim() === "" ? NaN : Number(text);
  }

  // Why `input` breaks a constraint the HTML cannot state ("" when it does not).
  function problemOf(input) {
    var value = input.value;
    if (input.hasAttribute("data-json")) {
      try {
        var parsed = JSON.parse(value);
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
          return "The task data must be a JSON object, such as {\"answer\": \"yes\"}.";
        }
      } catch (error) {
        return "This is not valid JSON: " + error.message;
      }
      return "";
    }
    if (value.trim() === "") {
      return "";
    }
    var minimum = input.getAttribute("data-minimum");
    var maximum = input.getAttribute("data-maximum");
    var given = number(value);
    if (minimum !== null && !isNaN(given) && given < number(minimum)) {
      return "Use " + minimum + " or more.";
    }
    if (maximum !== null && !isNaN(given) && given > number(maximum)) {
      return "Use " + maximum + " or less.";
    }
    var pattern = input.getAttribute("data-pattern");
    if (pattern !== null) {
      try {
        if (!new RegExp(pattern, "u").test(value)) {
          return "This does not match the pattern " + pattern + ".";
        }
      } catch (ignored) {
        // A pattern this browser cannot read is left to the server.
      }
    }
    return "";
  }

  function listProblem(fieldset) {
    var filled = items(fieldset).filter(function (item) {
      return item.querySelector("input").value.trim() !== "";
    }).length;
    var min = parseInt(fieldset.getAttribute("data-min-items"), 10);
    var max = parseInt(fieldset.getAttribute("data-max-items"), 10);
    if (!isNaN(min) && filled < min) {
      return "Give at least " + min + " item" + (min === 1 ? "" : "s") + ".";
    }
    if (!isNaN(max) && filled > max) {
      return "Give at most " + max + " item" + (max === 1 ? "" : "s") + ".";
    }
    return "";
  }

  // Sets every field's custom validity in a checked form.
  function check(form) {
    if (!form || !form.hasAttribute("data-checked")) {
      return;
    }
    form.querySelectorAll("input, textarea").forEach(function (input) {
      if (input.type === "hidden" || input.type === "checkbox") {
        return;
      }
      input.setCustomValidity(problemOf(input));
    });
    form.querySelectorAll("fieldset[data-repeat]").forEach(function (fieldset) {
      var first = fieldset.querySelector(".repeat-item input");
      var problem = listProblem(fieldset);
      if (first && problem) {
        first.setCustomValidity(problem);
      }
    });
    var json = form.querySelector("textarea[data-json]");
    var shown = document.getElementById("task-data-error");
    if (json && shown) {
      shown.textContent = json.validationMessage;
      shown.hidden = json.validity.valid;
    }
  }

  function start() {
    document.querySelectorAll("fieldset[data-repeat]").forEach(function (fieldset) {
      fieldset.querySelectorAll("[data-add], [data-remove]").forEach(function (button) {
        button.hidden = false;
      });
      renumber(fieldset);
    });
    document.querySelectorAll("form[data-checked]").forEach(check);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-add], [data-remove]");
    if (!button) {
      return;
    }
    var fieldset = button.closest("fieldset[data-repeat]");
    if (!fieldset) {
      return;
    }
    event.preventDefault();
    if (button.hasAttribute("data-add")) {
      addItem(fieldset);
    } else {
      removeItem(fieldset, button.closest(".repeat-item"));
    }
  });

  document.addEventListener("input", function (event) {
    check(event.target.form || (event.target.closest && event.target.closest("form")));
  });
  document.addEventListener("change", function (event) {
    check(event.target.form || (event.target.closest && event.target.closest("form")));
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
