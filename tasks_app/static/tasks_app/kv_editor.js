/* The task_env editor (pages and admin): add and remove rows (one empty row always stays), and the lock of a row,
   which makes its value a secret. The lock checkboxes post the indexes of their rows, so they are renumbered. */
(function () {
  "use strict";

  document.querySelectorAll(".kv-editor").forEach(function (editor) {
    const list = editor.querySelector(".kv-rows");

    function renumber() {
      list.querySelectorAll(".kv-row").forEach(function (row, index) {
        const box = row.querySelector(".kv-secret");
        const label = row.querySelector(".kv-lock");
        if (!box || !label) return;
        box.value = String(index);
        box.id = editor.id + "-secret-" + index;
        label.htmlFor = box.id;
      });
    }
    function showLock(row) {
      const box = row.querySelector(".kv-secret");
      const value = row.querySelector(".kv-value");
      value.type = box.checked ? "password" : "text";
      value.autocomplete = box.checked ? "new-password" : "off";
      if (!row.querySelector(".kv-set")) {
        value.placeholder = box.checked ? value.dataset.placeholderSecret : value.dataset.placeholderPlain;
      }
    }
    function blankRow() {
      const row = list.querySelector(".kv-row").cloneNode(true);
      row.querySelectorAll("input").forEach(function (input) {
        if (input.type === "checkbox") input.checked = false; else input.value = "";
      });
      const set = row.querySelector(".kv-set");
      if (set) set.remove();
      showLock(row);
      return row;
    }
    editor.querySelector(".kv-add").addEventListener("click", function () {
      const row = blankRow();
      list.appendChild(row);
      renumber();
      row.querySelector(".kv-key").focus();
    });
    list.addEventListener("click", function (event) {
      const button = event.target.closest(".kv-remove");
      if (!button) return;
      const row = button.closest(".kv-row");
      if (list.querySelectorAll(".kv-row").length > 1) {
        row.remove();
      } else {
        list.replaceChild(blankRow(), row);
      }
      renumber();
    });
    list.addEventListener("change", function (event) {
      if (event.target.classList.contains("kv-secret")) showLock(event.target.closest(".kv-row"));
    });
  });
})();
