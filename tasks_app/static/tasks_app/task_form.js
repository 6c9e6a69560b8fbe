/* The task form: the cron template picker and the live cron preview (the key-value editor is kv_editor.js). */
(function () {
  "use strict";

  // Cron field: a picker fills the expression; the preview follows the expression and the time zone.
  document.querySelectorAll(".cron-field").forEach(function (field) {
    const input = field.querySelector("input[name]");
    const template = field.querySelector(".cron-template");
    const time = field.querySelector(".cron-time");
    const weekday = field.querySelector(".cron-weekday");
    const day = field.querySelector(".cron-day");
    const preview = field.querySelector(".cron-preview");
    const zone = document.getElementById(field.dataset.timezoneField);
    const calendar = document.getElementById("id_task_calendar"); // its excluded days are skipped in the preview

    function applyTemplate() {
      const option = template.selectedOptions[0];
      field.querySelectorAll(".cron-param").forEach(function (param) {
        param.hidden = !option.value || param.dataset.for.split(" ").indexOf(option.value) < 0;
      });
      if (!option.value) return;
      const parts = (time.value || "09:00").split(":");
      input.value = option.dataset.pattern
        .replace("{m}", String(parseInt(parts[1], 10) || 0))
        .replace("{h}", String(parseInt(parts[0], 10) || 0))
        .replace("{dow}", weekday.value)
        .replace("{dom}", day.value);
      refresh();
    }
    [template, time, weekday, day].forEach(function (el) { el.addEventListener("change", applyTemplate); });

    let timer = null;
    let asked = 0;
    function refresh() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        const ticket = ++asked;
        const params = new URLSearchParams({ expr: input.value, tz: zone ? zone.value : "",
                                             calendar: calendar ? calendar.value : "" });
        fetch(field.dataset.previewUrl + "?" + params, { credentials: "same-origin" })
          .then(function (r) { return r.redirected ? null : r.text(); }) // redirected: the session ended
          .then(function (html) {
            if (ticket !== asked || html === null) return; // an older answer arriving late
            preview.innerHTML = html;
            const ok = preview.querySelector("[data-valid]");
            input.classList.toggle("is-invalid", !!ok && ok.dataset.valid === "0");
          });
      }, 250);
    }
    input.addEventListener("input", refresh);
    if (zone) zone.addEventListener("change", refresh);
    if (calendar) calendar.addEventListener("change", refresh);
    refresh();
  });
})();

/* The task type: only the chosen type's option fields show, and the script only for a type that runs a file. */
(function () {
  "use strict";
  const select = document.getElementById("id_task_type");
  if (!select) return;
  const runsFile = JSON.parse(select.dataset.runsFile || "{}");
  const script = document.getElementById("div_id_task_exec");
  function follow() {
    const chosen = select.value || "python";
    document.querySelectorAll(".type-options[data-task-type]").forEach(function (group) {
      group.hidden = group.dataset.taskType !== chosen;
    });
    if (script) script.hidden = runsFile[chosen] === false;
  }
  select.addEventListener("change", follow);
  follow();
})();
