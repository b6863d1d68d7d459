// The print button of the printable confirmation: shown only where script runs (the browser's
// own print command works everywhere else).
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
