// Starts the ALTCHA widget of the booking form (vendored in ./altcha/, version in its VERSION file):
// its texts in the page's language, its SHA-256 worker from this site (no blob: or inline code, so
// the Content-Security-Policy stays as it is), and a fresh challenge when one runs out. The form
// works without this script too: the booking is then confirmed by the link in an email.
import "./altcha/altcha.min.js";

const altcha = globalThis.$altcha;
const worker = new URL("./altcha/sha.js", import.meta.url);
altcha.algorithms.set("SHA-256", () => new Worker(worker));

for (const widget of document.querySelectorAll("altcha-widget[data-strings]")) {
  const language = widget.getAttribute("language");
  altcha.i18n.set(language, { ...altcha.i18n.get("en"), ...JSON.parse(widget.dataset.strings) });
  // Ran out before the form was sent: solve a new one, again without the resident doing anything.
  widget.addEventListener("expired", () => {
    widget.reset();
    widget.verify();
  });
  // Sent while still solving: send it as soon as the widget is done (solved or failed).
  const form = widget.closest("form");
  form?.addEventListener("submit", (event) => {
    if (widget.getState() !== "verifying") return;
    event.preventDefault();
    const wait = (change) => {
      if (change.detail.state === "verifying") return;
      widget.removeEventListener("statechange", wait);
      form.requestSubmit(event.submitter);
    };
    widget.addEventListener("statechange", wait);
  });
}
