/**
 * The site's only stylesheet and script, served from the site itself (the CSP allows nothing else).
 * The script is progressive enhancement: a live countdown next to each ETA, and copy buttons. Without it
 * every page still shows the ETA as a date and the whole cancel path.
 */
export const SITE_CSS = `:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fff; --muted: #555; --line: #d0d0d0; --alert: #b00020; --alert-bg: #fdecee; --ok: #0b6b2e; --link: #0645ad; }
@media (prefers-color-scheme: dark) { :root { --fg: #eee; --bg: #121212; --muted: #bbb; --line: #444; --alert: #ff8a80; --alert-bg: #3b1114; --ok: #7bd88f; --link: #8ab4f8; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--link); }
main, header.top, footer { max-width: 70rem; margin: 0 auto; padding: 0 1rem; }
header.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; justify-content: space-between; padding-top: .75rem; padding-bottom: .75rem; border-bottom: 1px solid var(--line); }
header.top nav a { margin-left: 1rem; }
footer { color: var(--muted); font-size: .875rem; border-top: 1px solid var(--line); margin-top: 2rem; }
h1 { font-size: 1.6rem; line-height: 1.25; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin-top: 2rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .875em; overflow-wrap: anywhere; }
code.wrap { word-break: break-all; }
.claim { font-style: italic; overflow-wrap: anywhere; }
.banner { border: 3px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; }
.banner-alert { border-color: var(--alert); background: var(--alert-bg); }
.banner-alert h2 { margin-top: 0; color: var(--alert); }
.banner-ok { border-color: var(--ok); }
ol.ops { list-style: none; padding: 0; }
li.op { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: .375rem; padding: .5rem .75rem; margin: .5rem 0; }
li.op-alert { border-color: var(--alert); border-left-width: 10px; background: var(--alert-bg); }
li.op-pending { border-left-color: var(--link); }
li.op-executed { border-left-color: var(--ok); }
.op-title { font-weight: 600; overflow-wrap: anywhere; }
.op-meta, .verdict { color: var(--muted); font-size: .9rem; }
.group-alert .verdict { color: var(--fg); font-weight: 600; }
.badge { display: inline-block; border: 1px solid currentColor; border-radius: 1rem; padding: 0 .5rem; font-size: .8rem; font-weight: 600; text-transform: uppercase; }
.badge-alert { color: var(--alert); }
.badge-executed { color: var(--ok); }
.countdown { font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; min-width: 0; }
ul.checks { list-style: none; padding: 0; }
ul.checks li { margin: .25rem 0; }
.mark { display: inline-block; min-width: 5.5rem; font-weight: 700; }
li.ok .mark { color: var(--ok); }
li.fail .mark, .fail { color: var(--alert); }
.cancel { border: 2px solid var(--line); border-radius: .5rem; padding: 0 1rem 1rem; }
.copyable { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
button.copy, a.download { font: inherit; padding: .25rem .75rem; border: 1px solid var(--link); border-radius: .375rem; background: transparent; color: var(--link); cursor: pointer; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: .5rem; }
  table, thead, tbody, tr, th, td { display: block; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tr { border: 1px solid var(--line); margin-bottom: .5rem; }
  td { border: 0; }
  td::before { content: attr(data-label) ": "; font-weight: 600; }
  header.top nav a { margin: 0 1rem 0 0; }
}
`;

export const SITE_JS = `// Gatehouse review site: live countdowns and copy buttons (progressive enhancement; no network access).
"use strict";
(function () {
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function left(seconds) {
    if (seconds <= 0) return "ready: it can be executed now; the guardian can still cancel until it is";
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (d > 0 ? d + "d " : "") + two(h) + "h " + two(m) + "m " + two(s) + "s left";
  }
  function tick() {
    var now = Math.floor(Date.now() / 1000);
    var nodes = document.querySelectorAll(".countdown[data-eta]");
    for (var i = 0; i < nodes.length; i++) {
      var eta = Number(nodes[i].getAttribute("data-eta"));
      if (isFinite(eta)) nodes[i].textContent = "(" + left(eta - now) + ")";
    }
  }
  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy") || "");
    var status = button.parentNode && button.parentNode.querySelector(".copied");
    if (!target || !navigator.clipboard) return;
    navigator.clipboard.writeText(target.textContent || "").then(
      function () { if (status) status.textContent = "Copied."; },
      function () { if (status) status.textContent = "Copy failed: select the calldata and copy it."; }
    );
  }
  function start() {
    tick();
    setInterval(tick, 1000);
    var buttons = document.querySelectorAll("button.copy[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
      buttons[i].addEventListener("click", function (e) { copy(e.currentTarget); });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
`;

/** A plain shield, so browsers find an icon on the site instead of asking for /favicon.ico. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M8 1 2 3v5c0 3.5 2.6 6.2 6 7 3.4-.8 6-3.5 6-7V3z" fill="#0645ad"/></svg>
`;
