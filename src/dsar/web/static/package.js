// The download link carries its secret in the URL fragment, which browsers never send to the
// server: copy it into the form, then drop it from the address bar and history. The language
// switch's links lead to this page in another language; the secret (from the fragment, pasted,
// or the code step's form) goes along in their fragment only, set when one is followed.
// Without JavaScript the switch is plain links and the person pastes the secret again.
(function () {
  "use strict";
  var field = document.getElementById("token");
  var hash = window.location.hash.slice(1);
  if (field && hash && !field.value) {
    field.value = decodeURIComponent(hash);
  }
  if (hash && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var token = document.querySelector("form input[name=token]");
  function carry(event) {
    var link = event.currentTarget;
    var href = link.getAttribute("href").split("#")[0];
    var value = token ? token.value.trim() : "";
    link.setAttribute("href", value ? href + "#" + encodeURIComponent(value) : href);
  }
  Array.prototype.forEach.call(document.querySelectorAll("nav.lang a[hreflang]"), function (link) {
    link.addEventListener("click", carry);
    link.addEventListener("auxclick", carry);
  });
})();
