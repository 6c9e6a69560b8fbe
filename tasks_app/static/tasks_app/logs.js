/* The log page's live tail: the last lines first, then whatever is written after them, every second.
   Filters ask the server again; search matches are highlighted here. */
(function () {
  "use strict";
  const box = document.getElementById("log-box");
  if (!box) return;
  const pre = document.getElementById("log-lines");
  const status = document.getElementById("log-status");
  const earlier = document.getElementById("log-earlier");
  const pause = document.getElementById("log-pause");
  const autoscroll = document.getElementById("log-autoscroll");
  const form = document.getElementById("log-filters");
  const text = box.dataset;
  const MAX_LINES = 5000; // keep the page light on a busy log
  let nextOffset = null;
  let startOffset = 0;
  let paused = false;
  let generation = 0;
  let timer = null;

  function filters() {
    const params = new URLSearchParams();
    ["level", "search", "since", "until"].forEach(function (name) {
      const value = form.elements[name].value;
      if (value) params.set(name, value);
    });
    return params;
  }

  // Log lines are untrusted text: they become text nodes, and a match is wrapped in <mark> by the DOM,
  // never by building HTML, so no line and no search can inject markup.
  function appendHighlighted(parent, text, needle) {
    if (!needle) {
      parent.appendChild(document.createTextNode(text));
      return;
    }
    const pattern = new RegExp(needle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      const mark = document.createElement("mark");
      mark.textContent = match[0];
      parent.appendChild(mark);
      last = pattern.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(lines) {
    const needle = form.elements.search.value;
    const frag = document.createDocumentFragment();
    lines.forEach(function (line) {
      const span = document.createElement("span");
      span.className = "log-line" + (line.level ? " lvl-" + line.level : "");
      appendHighlighted(span, line.text + "\n", needle);
      frag.appendChild(span);
    });
    return frag;
  }

  function setStatus(message, extra) {
    status.textContent = message + (extra ? " " + extra : "");
  }

  function atBottom() { return box.scrollTop + box.clientHeight >= box.scrollHeight - 16; }

  function request(params) {
    return fetch(text.linesUrl + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) throw new Error(Object.values(data.errors || {}).join(" ") || r.status);
          return data;
        });
      });
  }

  function load() {
    const mine = ++generation;
    clearTimeout(timer);
    const params = filters();
    params.set("tail", "500");
    request(params).then(function (data) {
      if (mine !== generation) return;
      pre.textContent = "";
      pre.appendChild(render(data.lines));
      nextOffset = data.next_offset;
      startOffset = data.start_offset;
      earlier.classList.toggle("d-none", !data.more_before);
      if (!data.exists) setStatus(text.textMissing);
      else if (!data.lines.length) setStatus(text.textEmpty);
      else setStatus(paused ? text.textPaused : text.textLive);
      box.scrollTop = box.scrollHeight;
      schedule(mine);
    }).catch(function (err) {
      setStatus(text.textError, err.message);
      schedule(mine);
    });
  }

  function poll(mine) {
    if (mine !== generation) return;
    if (paused || document.hidden || nextOffset === null) { schedule(mine); return; }
    const params = filters();
    params.set("offset", String(nextOffset));
    request(params).then(function (data) {
      if (mine !== generation) return;
      if (data.reset) { load(); return; } // the file was rotated or truncated: start again
      const follow = autoscroll.checked && atBottom();
      if (data.lines.length) {
        pre.appendChild(render(data.lines));
        while (pre.childNodes.length > MAX_LINES) pre.removeChild(pre.firstChild);
        setStatus(text.textLive);
      } else if (data.exists && !pre.childNodes.length) {
        setStatus(text.textEmpty);
      } else if (data.exists && status.textContent === text.textMissing) {
        setStatus(text.textLive);
      }
      nextOffset = data.next_offset;
      if (follow || (autoscroll.checked && data.lines.length)) box.scrollTop = box.scrollHeight;
      schedule(mine);
    }).catch(function (err) {
      setStatus(text.textError, err.message);
      schedule(mine);
    });
  }

  function schedule(mine) {
    clearTimeout(timer);
    timer = setTimeout(function () { poll(mine); }, 1000);
  }

  earlier.addEventListener("click", function () {
    const params = filters();
    params.set("tail", "500");
    params.set("before", String(startOffset));
    request(params).then(function (data) {
      const height = box.scrollHeight;
      pre.insertBefore(render(data.lines), pre.firstChild);
      startOffset = data.start_offset;
      earlier.classList.toggle("d-none", !data.more_before);
      box.scrollTop += box.scrollHeight - height;
    });
  });

  pause.addEventListener("click", function () {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? pause.dataset.labelResume : pause.dataset.labelPause;
    setStatus(paused ? text.textPaused : text.textLive);
  });

  let typing = null;
  form.addEventListener("input", function (event) {
    if (event.target === autoscroll) return;
    clearTimeout(typing);
    typing = setTimeout(load, 300);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  load();
})();
