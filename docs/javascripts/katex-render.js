// Render the formulas that pymdownx.arithmatex (generic mode) leaves as \( ... \) and \[ ... \],
// with the KaTeX that the site itself serves (vendor/katex/, no CDN).
(function () {
  function render() {
    document.querySelectorAll(".arithmatex").forEach(function (element) {
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
