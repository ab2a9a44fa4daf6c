// Progressive touches only: every page works without this file.
// A "Copy" button beside each secret (passkey, announce URL) where the browser offers a clipboard.
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  document.querySelectorAll("code.secret").forEach(function (code) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + (code.dataset.label || "value"));
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(code.textContent.trim()).then(
        function () { button.textContent = "Copied"; },
        function () { button.textContent = "Select it to copy"; }
      ).then(function () {
        window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
    code.insertAdjacentElement("afterend", button);
  });
})();
