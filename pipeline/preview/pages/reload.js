// The preview's live reload, included inline by reload.html.j2 (the page's CSP allows inline scripts only).
// It long-polls /_preview/version?since=<the version this page shows>: the server answers as soon as a build
// changes the page, or after 20 s with the same version, and then the script asks again. On a new version the
// page reloads and scrolls back to where it was; while the server is away it retries every second.
(function () {
  "use strict";
  var version = Number(document.currentScript.dataset.version);
  var key = "pipeline-preview-scroll";
  window.addEventListener("load", function () {
    var y = sessionStorage.getItem(key);
    if (y !== null) { sessionStorage.removeItem(key); window.scrollTo(0, Number(y)); }
  });
  function poll() {
    fetch("/_preview/version?since=" + version, {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.version !== version) {
          sessionStorage.setItem(key, String(window.scrollY));
          location.reload();
        } else {
          poll();
        }
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
