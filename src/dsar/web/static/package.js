// The download link carries its secret in the URL fragment, which browsers never send to the
// server: copy it into the form, then drop it from the address bar and history.
(function () {
  "use strict";
  var field = document.getElementById("token");
  var hash = window.location.hash.slice(1);
  if (field && hash && !field.value) {
    field.value = decodeURIComponent(hash);
  }
  if (hash && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
})();
