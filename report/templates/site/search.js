// The site's search: filters the indicator list by name in the page's language (no request to any host).
(function () {
  "use strict";
  var input = document.querySelector("[data-filter]");
  var list = document.querySelector("[data-filterable]");
  if (!input || !list) { return; }
  var status = document.querySelector(".filter-count");
  var items = Array.prototype.slice.call(list.querySelectorAll("li[data-name]"));
  function apply() {
    var words = input.value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (item) {
      var name = item.getAttribute("data-name");
      var match = words.every(function (word) { return name.indexOf(word) !== -1; });
      item.hidden = !match;
      if (match) { shown += 1; }
    });
    if (status) { status.textContent = shown === 0 ? status.getAttribute("data-none") : shown + " / " + items.length; }
  }
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { input.value = query; }
  input.addEventListener("input", apply);
  apply();
})();
