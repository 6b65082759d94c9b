// Junction console: small improvements on pages that work without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // After the OAuth callback, the address bar shows the instance page instead of the spent callback URL.
  const replace = document.querySelector("[data-replace-url]");
  if (replace && replace.dataset.replaceUrl.startsWith("/")) {
    history.replaceState(null, "", replace.dataset.replaceUrl);
  }
  // A copy button beside anything marked data-copy (the instance token shown once).
  for (const target of document.querySelectorAll("[data-copy]")) {
    if (!navigator.clipboard) break;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Copy";
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(target.textContent.trim());
      button.textContent = "Copied";
    });
    target.insertAdjacentElement("afterend", button);
  }
});
