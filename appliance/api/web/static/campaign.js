// The judging page's keyboard shortcuts (served by the appliance, no external code). The page
// works without it: these keys only fill in and submit the same forms. A campaign page that is
// GENERATING ([data-refresh-s]) reloads itself every few seconds until the campaign opens.
//   two candidates: A / B (or 1 / 2) picks the better one;
//   more: type the letters best first (Backspace undoes), Enter saves the ranking;
//   X: both (all) bad; S: skip.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const judge = document.querySelector("[data-judge]");
  if (judge) judgePage(judge);
  const refresh = document.querySelector("[data-refresh-s]");
  if (refresh) setTimeout(() => location.reload(), 1000 * Number(refresh.dataset.refreshS));
});

function judgePage(root) {
  const count = Number(root.dataset.count);
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".slice(0, count);
  const ranking = root.querySelector("#ranking");
  const press = (id) => { const button = root.querySelector(id); if (button) button.click(); };

  const marks = () => {
    const order = ranking ? ranking.value.toUpperCase().replace(/[^A-Z]/g, "") : "";
    for (const item of root.querySelectorAll(".candidate")) {
      const place = order.indexOf(item.dataset.label);
      item.classList.toggle("ranked", place >= 0);
      item.dataset.place = place >= 0 ? String(place + 1) : "";
    }
  };
  if (ranking) ranking.addEventListener("input", marks);

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toUpperCase();
    const typing = event.target === ranking;
    if (key === "X" && count < 24) { event.preventDefault(); press("#both-bad"); return; }
    if (key === "S" && count < 19) { event.preventDefault(); press("#skip"); return; }
    if (count === 2) {
      const pick = key === "1" ? "A" : key === "2" ? "B" : key;
      if (letters.includes(pick) && pick.length === 1) {
        event.preventDefault();
        press(`#pick-${pick}`);
      }
      return;
    }
    if (!ranking) return;
    if (letters.includes(key) && key.length === 1) {
      event.preventDefault();
      const order = ranking.value.toUpperCase().replace(/[^A-Z]/g, "");
      if (!order.includes(key)) ranking.value = (order + key).split("").join(" ");
      marks();
    } else if (key === "BACKSPACE" && !typing) {
      event.preventDefault();
      const order = ranking.value.toUpperCase().replace(/[^A-Z]/g, "");
      ranking.value = order.slice(0, -1).split("").join(" ");
      marks();
    } else if (key === "ENTER" && !typing) {
      event.preventDefault();
      press("#save-ranking");
    }
  });
}
