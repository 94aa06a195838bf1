// Article pages: the print button (scripts are external only, see the Content-Security-Policy).
"use strict";

for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
