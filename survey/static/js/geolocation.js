// "Use my location" for geopoint questions: the browser's position, with its accuracy, written
// into the typed field as ODK writes a geopoint ("latitude longitude altitude accuracy").
// Without JavaScript or geolocation the field stays a typed entry.
(function () {
  "use strict";
  if (!("geolocation" in navigator)) return;
  document.querySelectorAll("button[data-geolocate]").forEach(function (button) {
    var input = document.getElementById(button.dataset.geolocate);
    var status = document.querySelector('[data-geolocate-status="' + button.dataset.geolocate + '"]');
    if (!input) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      if (status) status.textContent = "…";
      navigator.geolocation.getCurrentPosition(
        function (position) {
          var c = position.coords;
          input.value = [
            c.latitude.toFixed(6),
            c.longitude.toFixed(6),
            (c.altitude || 0).toFixed(1),
            (c.accuracy || 0).toFixed(1),
          ].join(" ");
          input.dispatchEvent(new Event("input", { bubbles: true }));
          input.dispatchEvent(new Event("change", { bubbles: true }));
          if (status) status.textContent = "± " + Math.round(c.accuracy || 0) + " m";
        },
        function (error) {
          // The browser's own message is in its language, not the volunteer's.
          var denied = error.code === error.PERMISSION_DENIED;
          if (status) status.textContent = denied ? button.dataset.denied : button.dataset.failed;
        },
        { enableHighAccuracy: true, timeout: 30000, maximumAge: 0 }
      );
    });
  });
})();
