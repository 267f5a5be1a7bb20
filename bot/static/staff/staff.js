// The workbench's few behaviours (no inline script: the Content-Security-Policy forbids it).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Typing notice: the presence poll sends typing=1 while the reply box was used in the last 6 s.
  const text = document.getElementById("reply-text");
  const typing = document.getElementById("typing");
  let idle;
  if (text && typing) {
    text.addEventListener("input", () => {
      typing.value = "1";
      clearTimeout(idle);
      idle = setTimeout(() => { typing.value = "0"; }, 6000);
    });
  }

  // A canned reply picked from the list goes into the reply box (placeholders already filled).
  const canned = document.getElementById("canned");
  if (canned && text) {
    canned.addEventListener("change", () => {
      if (!canned.value) return;
      text.value = text.value ? text.value + "\n" + canned.value : canned.value;
      canned.selectedIndex = 0;
      text.focus();
      text.dispatchEvent(new Event("input"));
    });
  }

  // Buttons that need a second thought.
  document.querySelectorAll("form[data-confirm]").forEach(form => {
    form.addEventListener("submit", event => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // "Select all" on the application list.
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll("input[name=ids]").forEach(box => { box.checked = all.checked; });
    });
  }

  // Keep the newest message in view when the conversation refreshes, unless staff scrolled up to read.
  const log = document.getElementById("timeline");
  let atBottom = true;
  if (log) {
    log.scrollTop = log.scrollHeight;
    document.body.addEventListener("htmx:beforeSwap", event => {
      if (event.detail.target === log) atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    });
    document.body.addEventListener("htmx:afterSwap", event => {
      if (event.detail.target === log && atBottom) log.scrollTop = log.scrollHeight;
    });
  }
});
