// The site's search: filters the indicator list by name in the page's language (no request to any host).
// Each word of the query is matched by its stem, as a part of a name: "päästöt" finds "Päästöindeksi" and
// "Päästöjen muutos", "utsläppen" finds "Utsläppsindex", "emissions" finds "Emission factor".
(function () {
  "use strict";
  var input = document.querySelector("[data-filter]");
  var list = document.querySelector("[data-filterable]");
  if (!input || !list) { return; }
  var status = document.querySelector(".filter-count");
  var items = Array.prototype.slice.call(list.querySelectorAll("li[data-name]"));
  // common case, plural and possessive endings, longest first: Finnish nouns inflect and compound
  // ("päästöt", "päästöjen", "päästöindeksi"), Swedish ones take definite and plural endings
  var ENDINGS = {
    fi: ["itten", "iden", "ihin", "jen", "ien", "ssa", "ssä", "sta", "stä", "lla", "llä", "lta", "ltä",
      "lle", "ksi", "tta", "ttä", "ja", "jä", "na", "nä", "ta", "tä", "en", "an", "än", "in", "n", "t",
      "a", "ä"],
    sv: ["arna", "erna", "orna", "ens", "ets", "en", "et", "er", "ar", "or", "na", "s"],
    en: ["es", "s"]
  };
  var MIN_STEM = 4; // a shorter stem would find too much ("pä")
  var lang = (document.documentElement.getAttribute("lang") || "").slice(0, 2);
  function stem(word) {
    var endings = ENDINGS[lang] || [];
    for (var i = 0; i < endings.length; i += 1) {
      var end = endings[i];
      if (word.length - end.length >= MIN_STEM && word.slice(-end.length) === end) {
        return word.slice(0, -end.length);
      }
    }
    return word;
  }
  function apply() {
    var words = input.value.toLocaleLowerCase().split(/\s+/).filter(Boolean).map(stem);
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
