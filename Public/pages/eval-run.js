// An eval run's page (#/evals/{eval_id}/runs/{run_id}), where a run's report_url points: status, result counts,
// each testing criterion's mean score and pass counts, model usage, and the output items, filterable by status.
// Refreshes while the run executes.
import * as api from "../api.js";
import { h, fill, badge, link, details, errorBox, empty, time, number, jobHref } from "../dom.js";
import { TERMINAL_RUN, runPath, allOutputItems, criterionStats, resultOf, answerOf, score } from "../evals.js";

const STATUS_CLASS = { completed: "succeeded", failed: "failed", canceled: "cancelled", in_progress: "running", queued: "queued" };

export const runBadge = (status) => {
  const b = badge(STATUS_CLASS[status] || status);
  b.textContent = status.replace("_", " ");
  return b;
};

function counts(run) {
  const c = run.result_counts || {};
  return h("div", { class: "counts", id: "run-counts" },
    ["total", "passed", "failed", "errored"].map((k) =>
      h("div", { class: `count count-${k}`, "data-count": k }, h("strong", {}, number(c[k] ?? 0)), h("span", { class: "muted" }, k))));
}

function criteriaTable(stats, run) {
  const byID = new Map((run.per_testing_criteria_results || []).map((r) => [r.testing_criteria, r]));
  return h("div", { class: "table-wrap" }, h("table", { id: "run-criteria" },
    h("thead", {}, h("tr", {}, h("th", {}, "Criterion"), h("th", {}, "Grader"), h("th", { class: "num" }, "Mean score"),
      h("th", { class: "num" }, "Passed"), h("th", { class: "num" }, "Failed"), h("th", { class: "num" }, "Pass rate"))),
    h("tbody", {}, stats.map((s) => {
      const counted = [...byID.values()].find((r) => r.testing_criteria.startsWith(`${s.name}-`)) || {};
      const passed = counted.passed ?? s.passed, failed = counted.failed ?? s.failed;
      const rate = passed + failed ? `${Math.round((100 * passed) / (passed + failed))} %` : "—";
      return h("tr", { "data-criterion": s.name },
        h("td", {}, h("code", {}, s.name)), h("td", { class: "muted" }, s.type),
        h("td", { class: "num mean" }, score(s.mean)), h("td", { class: "num" }, number(passed)),
        h("td", { class: "num" }, number(failed)), h("td", { class: "num" }, rate));
    }))));
}

function usageList(run) {
  const usage = run.per_model_usage || [];
  if (usage.length === 0) return h("span", { class: "muted" }, "no model was sampled");
  return h("ul", { class: "plain" }, usage.map((u) => h("li", {}, h("code", { class: "wrap" }, u.model_name), ": ",
    `${number(u.invocation_count)} calls, ${number(u.prompt_tokens)} prompt + ${number(u.completion_tokens)} completion tokens`)));
}

function itemsTable(items, criteria, filter) {
  const shown = items.filter((i) => filter === "all" || i.status === filter);
  if (shown.length === 0) return empty(items.length ? "No output items with this status." : "No output items yet.");
  return h("div", { class: "table-wrap" }, h("table", { id: "run-items" },
    h("thead", {}, h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "Status"),
      criteria.map((c) => h("th", { class: "num" }, c.name)), h("th", {}, "Answer"))),
    h("tbody", {}, shown.map((item) => h("tr", { "data-status": item.status },
      h("td", { class: "num" }, String(item.datasource_item_id)),
      h("td", {}, h("span", { class: `result result-${item.status}` }, item.status)),
      criteria.map((c) => {
        const r = resultOf(item, c.name);
        return h("td", { class: `num ${r?.passed ? "pass" : "fail"}`, title: r?.error || "" }, r ? score(r.score) : "—");
      }),
      h("td", { class: "answer" }, item.sample?.error?.message
        ? h("span", { class: "bad" }, item.sample.error.message)
        : h("span", { class: "clip" }, answerOf(item))))))));
}

export async function render(view, ctx) {
  const [evalID, runID] = ctx.params;
  document.title = `${runID} · Tailor`;
  const evalObject = await api.get(`/evals/${encodeURIComponent(evalID)}`, ctx);
  const criteria = evalObject.testing_criteria || [];
  let run = await api.get(runPath(evalID, runID), ctx);
  let items = [];
  let filter = ctx.query.get("status") || "all";

  const head = h("div", { class: "page-head" });
  const facts = h("div", { id: "run-summary" });
  const countsBox = h("div");
  const criteriaBox = h("div");
  const itemsBox = h("div");
  const message = h("div");
  const filterSelect = h("select", { id: "run-filter", onchange: () => { filter = filterSelect.value; show(); } },
    ["all", "pass", "fail", "error"].map((s) => h("option", { value: s, selected: s === filter }, s === "all" ? "all items" : s)));

  const show = () => {
    fill(head, h("h1", { class: "wrap" }, run.name, " ", h("code", { class: "muted" }, run.id)),
      h("span", { id: "run-status", "data-status": run.status }, runBadge(run.status)));
    fill(facts, details([
      ["Eval", [evalObject.name, " ", h("code", { class: "muted" }, evalObject.id)]],
      evalObject.metadata?.fine_tuning_job && ["Fine-tuning job",
        link(jobHref(evalObject.metadata.fine_tuning_job), evalObject.metadata.fine_tuning_job, { class: "mono", id: "run-job" })],
      ["Model", run.model ? h("code", { class: "wrap" }, run.model) : h("span", { class: "muted" }, "samples given with the items")],
      ["Data source", run.data_source?.type],
      ["Created", time(run.created_at)],
      ["Model usage", usageList(run)],
      run.error?.code && ["Error", errorBox({ message: run.error.message, code: run.error.code })],
    ]));
    fill(countsBox, counts(run));
    fill(criteriaBox, criteriaTable(criterionStats(criteria, items), run));
    fill(itemsBox, itemsTable(items, criteria, filter));
  };

  const refresh = async () => {
    [run, items] = await Promise.all([api.get(runPath(evalID, runID), ctx), allOutputItems(evalID, runID, ctx)]);
    show();
  };

  show();
  fill(view,
    h("nav", { class: "crumbs" }, "Evals / ", h("span", { class: "mono" }, evalID), " / runs / ", h("span", { class: "mono" }, runID)),
    head, message,
    h("div", { class: "job-grid" },
      h("section", { class: "card" }, h("h2", {}, "Run"), facts),
      h("section", { class: "card" }, h("h2", {}, "Results"), countsBox)),
    h("section", { class: "card" }, h("h2", {}, "Scores by criterion"),
      h("p", { class: "small muted" }, "The mean is over the items each criterion could grade; pass and fail use the criterion's own threshold."),
      criteriaBox),
    h("section", { class: "card" },
      h("div", { class: "section-head" }, h("h2", {}, "Output items"), h("label", { class: "small" }, "Show ", filterSelect)),
      itemsBox));
  await refresh();
  if (!TERMINAL_RUN.has(run.status)) {
    ctx.every(2000, () => {
      if (TERMINAL_RUN.has(run.status)) return;
      refresh().catch((err) => { if (!api.isAbort(err)) fill(message, errorBox(err)); });
    });
  }
}
