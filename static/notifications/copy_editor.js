// The add form of a message template: choosing another message, channel or language loads the
// text its readers get now (that language's live text), into every field the person has not
// changed; what they typed is never replaced, even when it was typed while the text loaded.
(function () {
  "use strict";
  const source = document.getElementById("copy-live-parts");
  if (!source) return;
  const choices = ["kind", "channel", "language"].map((name) => document.getElementById("id_" + name));
  const parts = ["subject", "text", "html", "whatsapp_content_sid", "whatsapp_variables"];
  const fields = parts.map((name) => document.getElementById("id_" + name)).filter(Boolean);
  // What each field held when it was last loaded: one that still holds it was not changed by hand.
  const loaded = new Map(fields.map((field) => [field, field.value]));
  let latest = 0;

  function load() {
    if (choices.some((choice) => !choice)) return;
    const [kind, channel, language] = choices.map((choice) => encodeURIComponent(choice.value));
    const url = source.dataset.url.replace("KIND", kind).replace("CHANNEL", channel).replace("LANGUAGE", language);
    const request = ++latest;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((live) => {
        if (!live || request !== latest) return; // a later choice's text is on its way
        for (const field of fields) {
          // A field being typed in (focused) is the person's, even before its value changes.
          if (field.value === loaded.get(field) && field !== document.activeElement) {
            field.value = live[field.name] || "";
            loaded.set(field, field.value);
          }
        }
      })
      .catch(() => {});
  }

  choices.forEach((choice) => choice && choice.addEventListener("change", load));
})();
