// The jobs list (#/jobs): status, base model, result, times and trained tokens, newest first, with "load more".
// It refreshes itself while a listed job is still moving; the job page has the details.
import * as api from "../api.js";
import { h, fill, badge, link, jobHref, empty, time, number, errorBox } from "../dom.js";

const PAGE = 20;
const ACTIVE = new Set(["validating_files", "queued", "running", "paused"]);

function row(job) {
  return h("tr", { "data-job": job.id },
    h("td", {}, link(jobHref(job.id), job.id, { class: "mono" })),
    h("td", {}, badge(job.status)),
    h("td", {}, job.model),
    h("td", { class: "mono wrap" }, job.fine_tuned_model ?? "—"),
    h("td", { class: "wide-only" }, time(job.created_at)),
    h("td", { class: "wide-only" }, time(job.finished_at)),
    h("td", { class: "num" }, number(job.trained_tokens)));
}

export async function render(view, ctx) {
  let jobs = [];
  let hasMore = false;
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const message = h("div");
  const table = h("div", { class: "table-wrap" }, h("table", { id: "jobs-table" },
    h("thead", {}, h("tr", {}, ["Job", "Status", "Base model", "Fine-tuned model"].map((t) => h("th", {}, t)),
      h("th", { class: "wide-only" }, "Created"), h("th", { class: "wide-only" }, "Finished"), h("th", { class: "num" }, "Trained tokens"))),
    body));

  const show = () => {
    if (jobs.length === 0) {
      fill(message, empty("No fine-tuning jobs yet. ", link("#/files", "Upload a training file"), ", then ",
        link("#/jobs/new", "start a job"), "."));
      table.hidden = true;
    } else {
      fill(message);
      table.hidden = false;
    }
    fill(body, jobs.map(row));
    more.hidden = !hasMore;
  };

  // A refresh asks again for as many jobs as are on screen, so rows loaded with "load more" stay.
  const load = async (after) => {
    const limit = after ? PAGE : Math.min(100, Math.max(PAGE, jobs.length));
    const page = await api.get(`/fine_tuning/jobs?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ""}`, ctx);
    jobs = after ? jobs.concat(page.data) : page.data;
    hasMore = page.has_more;
    show();
  };

  more.addEventListener("click", async () => {
    more.disabled = true;
    try { await load(jobs[jobs.length - 1].id); } catch (err) { if (!api.isAbort(err)) fill(message, errorBox(err)); }
    more.disabled = false;
  });

  await load();
  fill(view,
    h("div", { class: "page-head" }, h("h1", {}, "Fine-tuning jobs"), link("#/jobs/new", "New job", { class: "button" })),
    message, table, more);
  ctx.every(5000, () => {
    if (!jobs.some((j) => ACTIVE.has(j.status))) return;
    load().catch((err) => { if (!api.isAbort(err)) fill(message, errorBox(err)); });
  });
}
