// Every page (templates/base.html). No inline scripts: the Content-Security-Policy allows only
// files from this site and scripts carrying the page's nonce.
(function () {
  "use strict";
  // htmx swaps a 400 (a form with errors) and a 429 (throttled) answer like a success: their
  // bodies are the messages to show.
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    if ([400, 429].indexOf(e.detail.xhr.status) >= 0) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
  // Elements marked data-no-contextmenu (the course video) open no context menu.
  document.addEventListener("contextmenu", function (e) {
    if (e.target.closest && e.target.closest("[data-no-contextmenu]")) e.preventDefault();
  });
})();
