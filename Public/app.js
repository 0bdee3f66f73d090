// The dashboard's entry point: asks for the API key once, maps #/… addresses to page modules and starts the status
// header. Each page renders into #view with a context whose signal aborts its requests when the user leaves.
import * as api from "./api.js";
import { h, fill, errorBox, link } from "./dom.js";
import { startStatus } from "./status.js";
import * as files from "./pages/files.js";
import * as jobs from "./pages/jobs.js";
import * as job from "./pages/job.js";
import * as newJob from "./pages/new-job.js";
import * as playground from "./pages/playground.js";
import * as evalRun from "./pages/eval-run.js";

// Order matters: "/jobs/new" must win over "/jobs/{id}".
const ROUTES = [
  { pattern: /^\/jobs$/, page: jobs, section: "jobs" },
  { pattern: /^\/jobs\/new$/, page: newJob, section: "new" },
  { pattern: /^\/jobs\/([^/]+)$/, page: job, section: "jobs" },
  { pattern: /^\/files$/, page: files, section: "files" },
  { pattern: /^\/playground$/, page: playground, section: "playground" },
  { pattern: /^\/evals\/([^/]+)\/runs\/([^/]+)$/, page: evalRun, section: "evals" },
];

const view = document.getElementById("view");
const forgetButton = document.getElementById("forget-key");
let current = null;

/** The page's lifetime: aborting it cancels its fetches and streams, and clears its timers. */
function leave() {
  if (!current) return;
  current.abort();
  current = null;
}

function context(params, query) {
  const controller = new AbortController();
  const timers = [];
  controller.signal.addEventListener("abort", () => timers.forEach(clearInterval));
  current = controller;
  return {
    params,
    query,
    signal: controller.signal,
    every(ms, fn) { timers.push(setInterval(fn, ms)); },
    later(ms, fn) { timers.push(setTimeout(fn, ms)); },
    go(hash) { location.hash = hash; },
  };
}

function parse(hash) {
  const raw = hash.replace(/^#/, "") || "/jobs";
  const [path, search = ""] = raw.split("?");
  return { path: path.replace(/\/+$/, "") || "/jobs", query: new URLSearchParams(search) };
}

function route() {
  leave();
  if (!api.getKey()) return askForKey();
  forgetButton.hidden = false;
  const { path, query } = parse(location.hash);
  const match = ROUTES.map((r) => ({ r, m: path.match(r.pattern) })).find((x) => x.m);
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", match && a.dataset.section === match.r.section));
  if (!match) {
    fill(view, h("h1", {}, "Page not found"), h("p", {}, "There is no page at ", h("code", {}, path), ". Try ", link("#/jobs", "the jobs"), "."));
    return;
  }
  const ctx = context(match.m.slice(1).map(decodeURIComponent), query);
  fill(view, h("p", { class: "muted" }, "Loading…"));
  Promise.resolve()
    .then(() => match.r.page.render(view, ctx))
    .catch((err) => {
      if (api.isAbort(err) || ctx.signal.aborted) return;
      fill(view, errorBox(err));
    });
}

function askForKey(refusal) {
  leave();
  forgetButton.hidden = true;
  const input = h("input", { type: "password", name: "key", id: "api-key", autocomplete: "off", required: true, placeholder: "sk-…" });
  const message = h("div", {}, refusal ? errorBox(refusal) : null);
  const button = h("button", { type: "submit" }, "Use this key");
  const form = h("form", { class: "card key-form", id: "key-form" },
    h("h1", {}, "Your API key"),
    h("p", {}, "The dashboard uses the same /v1 API as the OpenAI SDKs, with one of your keys. ",
      "The first start of ", h("code", {}, "tailor serve"), " printed an admin key (also in ", h("code", {}, "data/admin.key"),
      "); ", h("code", {}, "tailor keys create --project NAME"), " makes more."),
    h("label", { for: "api-key" }, "API key"), input, message, button,
    h("p", { class: "muted small" }, "The key stays in this browser's local storage and is sent only in the Authorization header."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    api.setKey(input.value.trim());
    try {
      await api.get("/models");
      startStatus(document.getElementById("status"));
      route();
    } catch (err) {
      // A refused key re-renders this form through onKeyRefused; any other failure is shown here.
      if (err.status !== 401) { api.clearKey(); fill(message, errorBox(err)); button.disabled = false; }
    }
  });
  fill(view, form);
  input.focus();
}

api.onKeyRefused((err) => { api.clearKey(); askForKey(err); });
forgetButton.addEventListener("click", () => { api.clearKey(); askForKey(); });
window.addEventListener("hashchange", route);
if (api.getKey()) startStatus(document.getElementById("status"));
route();
