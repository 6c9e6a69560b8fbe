/* Task list: bulk actions. Check boxes per row and for the page, "select all matching" the current filters, the
   tag box shown for the tag actions, a confirmation before deleting. The server answers with a result per task. */
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  const rows = document.getElementById("task-rows");
  if (!form || !rows) return;
  const pageBox = document.getElementById("bulk-page");
  const allMatching = document.getElementById("bulk-all-matching");
  const action = document.getElementById("bulk-action");
  const tag = document.getElementById("bulk-tag");
  const count = document.getElementById("bulk-count");
  const apply = document.getElementById("bulk-apply");

  function boxes() { return Array.from(rows.querySelectorAll("input.bulk-select")); }

  function update() {
    const all = boxes();
    const chosen = all.filter(function (b) { return b.checked; }).length;
    const matching = allMatching && allMatching.checked;
    pageBox.checked = all.length > 0 && chosen === all.length;
    pageBox.indeterminate = chosen > 0 && chosen < all.length;
    count.textContent = matching ? allMatching.dataset.countText : count.dataset.template.replace("0", String(chosen));
    const needsTag = action.value === "add_tag" || action.value === "remove_tag";
    tag.classList.toggle("d-none", !needsTag);
    tag.required = needsTag;
    apply.disabled = !action.value || (!matching && chosen === 0);
  }

  pageBox.addEventListener("change", function () {
    boxes().forEach(function (b) { b.checked = pageBox.checked; });
    if (!pageBox.checked && allMatching) allMatching.checked = false;
    update();
  });
  rows.addEventListener("change", function (event) {
    if (event.target.classList.contains("bulk-select")) {
      if (!event.target.checked && allMatching) allMatching.checked = false;
      update();
    }
  });
  rows.addEventListener("rows-refreshed", update);
  if (allMatching) {
    allMatching.addEventListener("change", function () {
      if (allMatching.checked) boxes().forEach(function (b) { b.checked = true; });
      update();
    });
  }
  action.addEventListener("change", update);
  form.addEventListener("submit", function (event) {
    if (action.value === "delete" && !window.confirm(form.dataset.confirmDelete)) event.preventDefault();
  });
  update();
})();
