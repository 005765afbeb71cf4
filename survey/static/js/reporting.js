/* Report screens: while a report is built (seconds), show "Generating…" and keep the user
   from sending it twice. The form is marked aria-busy, its buttons are disabled and the
   status is announced; the server does the work either way (no JavaScript needed). */
(function () {
  "use strict";

  function busy(form, submitter) {
    if (form.getAttribute("aria-busy") === "true") {
      return false;
    }
    if (submitter && submitter.name) {
      // A disabled button is not sent with the form: keep its name and value.
      var kept = document.createElement("input");
      kept.type = "hidden";
      kept.name = submitter.name;
      kept.value = submitter.value;
      kept.setAttribute("data-busy-kept", "");
      form.appendChild(kept);
    }
    form.setAttribute("aria-busy", "true");
    var label = submitter && submitter.getAttribute("data-busy-label");
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.setAttribute("data-idle-label", button.textContent);
      button.disabled = true;
    });
    if (submitter && label) {
      submitter.textContent = label;
    }
    var status = form.querySelector("[data-busy-status]");
    if (status && label) {
      status.textContent = label;
    }
    return true;
  }

  function idle(form) {
    form.removeAttribute("aria-busy");
    form.querySelectorAll("[data-busy-kept]").forEach(function (input) {
      input.remove();
    });
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      if (button.hasAttribute("data-idle-label")) {
        button.textContent = button.getAttribute("data-idle-label");
      }
      button.disabled = false;
    });
  }

  document.querySelectorAll("form[data-report-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter || form.querySelector("button[type=submit]");
      if (!busy(form, submitter)) {
        event.preventDefault();
      }
    });
  });

  // Back to a page kept in the browser's cache: the buttons must work again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-report-form]").forEach(idle);
    }
  });
})();
