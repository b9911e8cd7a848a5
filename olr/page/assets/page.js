// The License page's only script: Copy buttons, and the countdown before
// a deadline, which ticks in the last hour. The page works without it.
"use strict";
document.querySelectorAll("button.copy").forEach(function (b) {
  b.addEventListener("click", function () {
    var t = document.getElementById(b.dataset.copy);
    t.select();
    if (navigator.clipboard) { navigator.clipboard.writeText(t.value); } else { document.execCommand("copy"); }
    b.textContent = "Copied";
  });
});
// Deadlines count from the server's clock, whatever the browser's says.
var skew = Number(document.body.dataset.now) - Date.now() / 1000;
function tick() {
  document.querySelectorAll(".countdown").forEach(function (c) {
    var left = Math.floor(Number(c.dataset.deadline) - (Date.now() / 1000 + skew));
    if (left <= 0) { c.textContent = "(stopped)"; return; }
    if (left > 3600) {
      var h = Math.floor(left / 3600);
      c.textContent = "(in " + (h >= 48 ? Math.floor(h / 24) + " days" : h + " h " + Math.floor(left % 3600 / 60) + " min") + ")";
      return;
    }
    var m = Math.floor(left / 60), s = left % 60;
    c.textContent = "server stops in " + m + ":" + (s < 10 ? "0" : "") + s;
  });
}
tick();
setInterval(tick, 1000);
