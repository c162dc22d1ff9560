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
  const loaded = new Map(fields.map((field) => [field, field.value]));

  function load() {
    if (choices.some((choice) => !choice)) return;
    const [kind, channel, language] = choices.map((choice) => encodeURIComponent(choice.value));
    const url = source.dataset.url.replace("KIND", kind).replace("CHANNEL", channel).replace("LANGUAGE", language);
    const before = new Map(fields.map((field) => [field, field.value]));
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((live) => {
        if (!live) return;
        for (const field of fields) {
          const untouched = field.value === before.get(field) && field.value === loaded.get(field);
          if (untouched) {
            field.value = live[field.name] || "";
            loaded.set(field, field.value);
          }
        }
      })
      .catch(() => {});
  }

  choices.forEach((choice) => choice && choice.addEventListener("change", load));
})();
