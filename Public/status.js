// The status line in the header, from GET /v1/status: running jobs with step, speed and ETA, and the queue depth.
// It polls only while a key is stored and the tab is visible; it never interrupts a page with its own errors.
import * as api from "./api.js";
import { h, fill, link, jobHref, clock } from "./dom.js";

const INTERVAL_MS = 4000;
let started = false;

function describe(status) {
  const parts = [];
  for (const job of status.running_jobs) {
    const eta = job.estimated_finish ? `, done ≈ ${clock(job.estimated_finish)}` : "";
    parts.push(h("span", { class: "running" }, h("span", { class: "dot" }), "Training ",
      link(jobHref(job.id), job.id, { class: "mono" }),
      ` step ${job.step}/${job.total_steps} · ${job.tokens_per_second} tok/s${eta}`));
  }
  if (status.running_jobs.length === 0) parts.push(h("span", {}, "Idle"));
  parts.push(h("span", { class: "muted" }, `queue ${status.queue_depth}`));
  parts.push(h("span", { class: "muted wide-only" }, `v${status.version}`));
  return parts;
}

export function startStatus(el) {
  if (started) return;
  started = true;
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden || !api.getKey()) return;
    busy = true;
    try {
      fill(el, describe(await api.get("/status")));
      el.classList.remove("offline");
    } catch (err) {
      // 401 is handled by the key form; anything else means the server is away, which the header says quietly.
      if (err.status !== 401) { fill(el, "Server unreachable"); el.classList.add("offline"); }
    } finally {
      busy = false;
    }
  };
  tick();
  setInterval(tick, INTERVAL_MS);
  document.addEventListener("visibilitychange", tick);
}
