// The set-password link carries its token after "#": browsers never send that part, so it is in no
// request line and no access log. Post it to this page (as a person without scripts would paste the
// link), and take it out of the address bar and the history first.
(function () {
  "use strict";
  var token = window.location.hash.slice(1);
  var form = document.getElementById("open-link");
  if (!token || !form) {
    return;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  form.elements.link.value = token;
  form.style.display = "none";
  document.querySelector("[data-testid=opening]").hidden = false;
  form.submit();
})();
