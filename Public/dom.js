// Builds the DOM from data without ever parsing HTML, so nothing the API returns can become markup; plus the
// formatting helpers the pages share. Not a framework: pages rebuild what changed themselves.

// Set as properties: as attributes they would only set the initial state of a form control.
const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden", "multiple", "required"]);

function build(el, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (PROPERTIES.has(name)) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, strings and numbers as text, arrays flattened, null/false skipped. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("a", {href: "#/files", class: "button"}, "Files"). */
export const h = (tag, props, ...children) => build(document.createElement(tag), props, children);

/** An SVG element, same shape as h(). */
export const svg = (tag, props, ...children) =>
  build(document.createElementNS("http://www.w3.org/2000/svg", tag), props, children);

/** Replaces an element's children. */
export const fill = (el, ...children) => { el.replaceChildren(); return append(el, children); };

/** OpenAI's error message, with its code and parameter when there are any. */
export function errorBox(err) {
  const detail = [err.code && `code ${err.code}`, err.param && `parameter ${err.param}`].filter(Boolean).join(", ");
  return h("div", { class: "error", role: "alert" }, h("strong", {}, "Error: "), err.message,
    detail ? h("span", { class: "muted" }, ` (${detail})`) : null);
}

export const empty = (...children) => h("div", { class: "empty" }, ...children);

export const badge = (status) => h("span", { class: `badge status-${status}` }, status.replace("_", " "));

export const link = (href, text, props = {}) => h("a", { href, ...props }, text);

export const jobHref = (id) => `#/jobs/${encodeURIComponent(id)}`;

export const playgroundHref = (model) => `#/playground?model=${encodeURIComponent(model)}`;

/** A definition list from [term, value] pairs; values may be nodes. */
export const details = (pairs) =>
  h("dl", { class: "facts" }, pairs.filter(Boolean).flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]));

export function time(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export const number = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString());

export const loss = (x) => (typeof x === "number" ? x.toFixed(4) : "—");
