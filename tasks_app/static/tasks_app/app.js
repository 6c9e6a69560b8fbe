/* Every page: CSRF-aware fetch, auto-submitting selects, the task list's live statuses and enable switches. */
(function () {
  "use strict";

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  window.schedulerPost = function (url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body || new FormData(),
    });
  };

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Task list: the rows come again from the server every few seconds (statuses, next run, last result).
  const rows = document.getElementById("task-rows");
  const table = document.getElementById("task-table");
  let busy = 0;
  if (rows && table) {
    const every = (parseInt(table.dataset.refreshSeconds, 10) || 5) * 1000;
    setInterval(function () {
      if (document.hidden || busy) return;
      fetch(table.dataset.refreshUrl, { headers: { "X-Fragment": "rows" }, credentials: "same-origin" })
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; }) // redirected: the login page
        .then(function (html) {
          if (html === null || busy) return;
          // Keep the bulk actions' check boxes as the user left them.
          const chosen = Array.from(rows.querySelectorAll("input.bulk-select:checked"), function (b) { return b.value; });
          rows.innerHTML = html;
          chosen.forEach(function (id) {
            const box = rows.querySelector('input.bulk-select[value="' + CSS.escape(id) + '"]');
            if (box) box.checked = true;
          });
          rows.dispatchEvent(new Event("rows-refreshed"));
        })
        .catch(function () { /* the next tick tries again */ });
    }, every);

    rows.addEventListener("change", function (event) {
      const box = event.target;
      if (!box.classList.contains("task-enabled-switch")) return;
      const url = box.checked ? box.dataset.enableUrl : box.dataset.disableUrl;
      busy += 1;
      box.disabled = true;
      window.schedulerPost(url)
        .then(function (r) {
          if (!r.ok) throw new Error(r.status);
          return r.json();
        })
        .then(function (data) {
          const row = box.closest("tr");
          const tmp = document.createElement("tbody");
          tmp.innerHTML = data.row.trim();
          if (row && tmp.firstElementChild) row.replaceWith(tmp.firstElementChild);
        })
        .catch(function () {
          box.checked = !box.checked;
          box.disabled = false;
          box.closest("td").classList.add("text-danger");
        })
        .finally(function () { busy -= 1; });
    });
  }

  // Execution page: while the run is active, its status and output refresh by themselves.
  const body = document.getElementById("execution-body");
  if (body) {
    const tick = function () {
      const state = body.querySelector(".execution-state");
      if (!state || state.dataset.active !== "1") return;
      fetch(body.dataset.refreshUrl, { headers: { "X-Fragment": "execution" }, credentials: "same-origin" })
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; }) // redirected: the login page
        .then(function (html) {
          if (html !== null) {
            const out = body.querySelector("#execution-output");
            const atEnd = !out || out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
            body.innerHTML = html;
            const fresh = body.querySelector("#execution-output");
            if (fresh && atEnd) fresh.scrollTop = fresh.scrollHeight;
          }
        })
        .finally(function () { setTimeout(tick, 1500); });
    };
    setTimeout(tick, 1500);
  }
  // A copy button (data-copy: the selector of the field it copies); says so on the button once copied.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      const field = document.querySelector(button.dataset.copy);
      if (!field) return;
      const done = function () { button.textContent = button.dataset.copied || "✓"; };
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
})();
