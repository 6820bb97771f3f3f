// The language selector keeps the reader's place: a link to the other language's page carries the anchor
// of this one (clause IDs, lecture claims and the translated headings keep the same anchors in both languages).
(function () {
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.md-select__link[hreflang]");
    if (link && location.hash && link.getAttribute("href").indexOf("#") < 0) {
      link.setAttribute("href", link.getAttribute("href") + location.hash);
    }
  }, true);
})();
