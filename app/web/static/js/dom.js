// Small DOM helpers: elements are built with `h`, never from HTML strings, so text from
// documents and answers is always text.

/** An element: h("a", {href: "#x", class: "c", onclick: fn}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** The first element matching `selector`. */
export const $ = (selector, root = document) => root.querySelector(selector);

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return el;
}

/** "1.2 MB" and the like. */
export function formatBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["bytes", "kB", "MB", "GB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** A date-time in the browser's locale. */
export function formatDate(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

/** "$0.000123"; small amounts keep their significant digits. */
export function formatCost(usd) {
  if (usd === null || usd === undefined) return "–";
  if (usd === 0) return "$0";
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

/** "p. 2" or "pp. 2–3". */
export function pageLabel(start, end) {
  return end && end !== start ? `pp. ${start}–${end}` : `p. ${start}`;
}

/** A promise that resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let announcer = null;

/** Say `text` to screen readers and show it in the status line. */
export function announce(text) {
  announcer = announcer || document.getElementById("status-line");
  if (announcer) announcer.textContent = text;
}
