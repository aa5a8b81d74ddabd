// The public form without clutter: show the correction rows only for a correction request,
// the California question only to a Californian asking for their data, and the state/nation/
// province list only for a country that has one (with only that country's entries enabled).
// Without JavaScript every section shows and the server sorts it out; a section holding an
// error is never hidden.
(function () {
  "use strict";
  var form = document.querySelector("form.public-request");
  if (!form) { return; }
  var corrections = form.querySelector("[data-when-type]");
  var scope = form.querySelector("[data-when-scope]");
  var place = form.querySelector("[data-subdivisions]");
  var country = form.querySelector("#f-country");
  var subdivision = form.querySelector("#f-subdivision");

  function chosenType() {
    var checked = form.querySelector("input[name=type]:checked");
    return checked ? checked.value : "";
  }
  function show(element, visible) {
    if (!element) { return; }
    element.hidden = !visible && !element.querySelector(".has-error") && !element.classList.contains("has-error");
  }
  function update() {
    var type = chosenType();
    var c = country ? country.value : "";
    var countries = place ? place.getAttribute("data-subdivisions").split(" ") : [];
    var hasSubdivisions = countries.indexOf(c) >= 0;
    if (subdivision) {
      Array.prototype.forEach.call(subdivision.querySelectorAll("optgroup"), function (group) {
        group.disabled = hasSubdivisions && group.getAttribute("data-country") !== c;
      });
      var selected = subdivision.options[subdivision.selectedIndex];
      if (selected && selected.parentNode.disabled) { subdivision.value = ""; }
    }
    show(place, hasSubdivisions);
    show(corrections, type === corrections.getAttribute("data-when-type"));
    show(scope, type === "access" && subdivision && subdivision.value === scope.getAttribute("data-when-scope"));
  }
  form.addEventListener("change", update);
  update();
})();
