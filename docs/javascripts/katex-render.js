// Render the formulas that pymdownx.arithmatex (generic mode) leaves as \( ... \) and \[ ... \],
// with the KaTeX that the site itself serves (vendor/katex/, no CDN): in the page, and in the table of
// contents, whose entries repeat a heading's formula as text (mkdocs' toc drops arithmatex's markup).
(function () {
  function render() {
    document.querySelectorAll(".arithmatex, .md-nav--secondary").forEach(function (element) {
      renderMathInElement(element, {
        delimiters: [
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
      });
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(render); // Material's page-load stream
  } else {
    document.addEventListener("DOMContentLoaded", render);
  }
})();
