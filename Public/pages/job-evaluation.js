// The job page's evaluation section, for a job created with `tailor.evaluation`: once the job has succeeded, the
// base model's run and the fine-tuned model's run side by side — each metric's mean score and the delta — and the
// examples with both answers and the reference, sortable and filterable to where the two models differ most.
import * as api from "../api.js";
import { h, fill, link, errorBox, empty, number } from "../dom.js";
import { TERMINAL_RUN, runHref, runPath, allOutputItems, criterionStats, resultOf, answerOf, referenceOf, promptOf, score, signed } from "../evals.js";
import { runBadge } from "./eval-run.js";

const SORTS = {
  difference: { label: "largest difference first", key: (r) => -Math.abs(r.delta ?? 0) },
  tuned: { label: "fine-tuned better first", key: (r) => -(r.delta ?? -Infinity) },
  base: { label: "base better first", key: (r) => (r.delta ?? Infinity) },
  order: { label: "test file order", key: (r) => r.index },
};
const FILTERS = {
  all: { label: "all examples", keep: () => true },
  differ: { label: "answers differ", keep: (r) => r.base !== r.tuned },
  tuned: { label: "fine-tuned scores higher", keep: (r) => (r.delta ?? 0) > 0 },
  base: { label: "base scores higher", keep: (r) => (r.delta ?? 0) < 0 },
};

function metricsTable(criteria, baseStats, tunedStats) {
  return h("div", { class: "table-wrap" }, h("table", { id: "comparison-metrics" },
    h("thead", {}, h("tr", {}, h("th", {}, "Metric"), h("th", { class: "num" }, "Base"), h("th", { class: "num" }, "Fine-tuned"),
      h("th", { class: "num" }, "Delta"), h("th", { class: "num" }, "Passed (base → tuned)"))),
    h("tbody", {}, criteria.map((c, i) => {
      const b = baseStats[i], t = tunedStats[i];
      const delta = b.mean !== null && t.mean !== null ? t.mean - b.mean : null;
      return h("tr", { "data-metric": c.name },
        h("td", {}, h("code", {}, c.name), " ", h("span", { class: "muted small" }, c.type)),
        h("td", { class: "num base" }, score(b.mean)), h("td", { class: "num tuned" }, score(t.mean)),
        h("td", { class: `num delta ${delta > 0 ? "up" : delta < 0 ? "down" : ""}` }, signed(delta)),
        h("td", { class: "num" }, `${number(b.passed)} → ${number(t.passed)}`));
    }))));
}

/** One row per test item graded in both runs: the answers, the reference and the chosen metric's scores. */
function rows(baseItems, tunedItems, metric) {
  const tunedByIndex = new Map(tunedItems.map((i) => [i.datasource_item_id, i]));
  return baseItems.filter((b) => tunedByIndex.has(b.datasource_item_id)).map((b) => {
    const t = tunedByIndex.get(b.datasource_item_id);
    const bs = resultOf(b, metric)?.score, ts = resultOf(t, metric)?.score;
    return { index: b.datasource_item_id, prompt: promptOf(b), base: answerOf(b), tuned: answerOf(t), reference: referenceOf(b),
      baseScore: bs, tunedScore: ts, delta: typeof bs === "number" && typeof ts === "number" ? ts - bs : null };
  });
}

function examplesTable(list) {
  if (list.length === 0) return empty("No examples match.");
  return h("div", { class: "table-wrap" }, h("table", { id: "comparison-examples", class: "examples" },
    h("thead", {}, h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "Prompt"), h("th", {}, "Base answer"),
      h("th", {}, "Fine-tuned answer"), h("th", {}, "Reference"), h("th", { class: "num" }, "Score (base → tuned)"))),
    h("tbody", {}, list.map((r) => h("tr", { "data-index": String(r.index), "data-delta": r.delta === null ? "" : String(r.delta) },
      h("td", { class: "num" }, String(r.index)),
      h("td", { class: "prompt" }, h("span", { class: "clip" }, r.prompt)),
      h("td", { class: "answer base" }, r.base),
      h("td", { class: "answer tuned" }, r.tuned),
      h("td", { class: "answer reference" }, r.reference),
      h("td", { class: "num" }, `${score(r.baseScore)} → ${score(r.tunedScore)}`, h("br"),
        h("span", { class: `delta ${r.delta > 0 ? "up" : r.delta < 0 ? "down" : ""}` }, signed(r.delta))))))));
}

/** The section's element, and `update(job)` to call whenever the job is refreshed. */
export function evaluationSection(ctx) {
  const el = h("section", { class: "card", id: "eval-comparison" });
  let loaded = null;        // { eval, base, tuned, baseItems, tunedItems } once the eval exists
  let metric = null, sort = "difference", filter = "all";
  let loading = false, polling = false, finished = false, missing = 0, failure = null;

  const draw = (job) => {
    const e = job.tailor?.evaluation;
    const headline = h("h2", {}, "Base vs fine-tuned");
    if (e.error || failure) return fill(el, headline, errorBox(failure || { message: e.error }));
    if (!e.eval_id || !loaded) {
      return fill(el, headline, h("p", { class: "muted", id: "comparison-pending" },
        job.status === "succeeded" ? "Loading the evaluation…"
          : ["When the job succeeds, the base model and the fine-tuned model answer every example of the test file ",
            h("code", {}, e.file), " and are scored against its reference answers."]));
    }
    const { eval: ev, base, tuned, baseItems, tunedItems } = loaded;
    const criteria = ev.testing_criteria || [];
    metric = metric || (criteria.find((c) => c.name === "rouge_l") || criteria[0])?.name;
    const total = base.result_counts?.total ?? 0;
    const runLine = (label, run, items) => h("li", {}, `${label}: `, link(runHref(ev.id, run.id), run.model, { class: "mono" }), " ",
      runBadge(run.status), h("span", { class: "muted small" }, ` ${items.length} graded`));
    const metricSelect = h("select", { id: "comparison-metric", onchange: () => { metric = metricSelect.value; draw(job); } },
      criteria.map((c) => h("option", { value: c.name, selected: c.name === metric }, c.name)));
    const sortSelect = h("select", { id: "comparison-sort", onchange: () => { sort = sortSelect.value; draw(job); } },
      Object.entries(SORTS).map(([k, s]) => h("option", { value: k, selected: k === sort }, s.label)));
    const filterSelect = h("select", { id: "comparison-filter", onchange: () => { filter = filterSelect.value; draw(job); } },
      Object.entries(FILTERS).map(([k, f]) => h("option", { value: k, selected: k === filter }, f.label)));
    const list = rows(baseItems, tunedItems, metric).filter(FILTERS[filter].keep)
      .sort((a, b) => SORTS[sort].key(a) - SORTS[sort].key(b) || a.index - b.index);
    fill(el, headline,
      h("p", { class: "small" }, `${number(total)} examples of the test file `, h("code", {}, e.file),
        ", answered greedily by each model and scored against the reference answer. Eval ", h("code", {}, ev.id), "."),
      h("ul", { class: "plain", id: "comparison-runs" }, runLine("Base", base, baseItems), runLine("Fine-tuned", tuned, tunedItems)),
      metricsTable(criteria, criterionStats(criteria, baseItems), criterionStats(criteria, tunedItems)),
      h("div", { class: "section-head" }, h("h3", {}, "Examples"),
        h("div", { class: "row compact small" }, h("label", {}, "Score ", metricSelect), h("label", {}, "Sort ", sortSelect),
          h("label", {}, "Show ", filterSelect))),
      examplesTable(list));
  };

  const load = async (job) => {
    const e = job.tailor.evaluation;
    const path = `/evals/${encodeURIComponent(e.eval_id)}`;
    const [ev, base, tuned] = await Promise.all([api.get(path, ctx), api.get(runPath(e.eval_id, e.base_run_id), ctx),
      api.get(runPath(e.eval_id, e.fine_tuned_run_id), ctx)]);
    const [baseItems, tunedItems] = await Promise.all([allOutputItems(e.eval_id, base.id, ctx), allOutputItems(e.eval_id, tuned.id, ctx)]);
    loaded = { eval: ev, base, tuned, baseItems, tunedItems };
    return TERMINAL_RUN.has(base.status) && TERMINAL_RUN.has(tuned.status);
  };

  const update = (job) => {
    if (!job.tailor?.evaluation) return;
    draw(job);
    if (job.status !== "succeeded" || !job.tailor.evaluation.eval_id || loading || polling || finished) return;
    loading = true;
    // The runs execute after the job: poll until both have finished, redrawing as items arrive.
    const tick = () => load(job).then((done) => { draw(job); return done; })
      .catch((err) => {
        // Not found: the eval is being created (a moment after the job succeeds), or it was deleted since.
        if (err.status === 404 && ++missing < 5) return false;
        if (!api.isAbort(err)) { failure = err; draw(job); }
        return true;
      })
      .then((done) => { finished = done; loading = false; });
    tick().then(() => {
      if (finished) return;
      polling = true;
      ctx.every(3000, () => { if (!loading && !finished) { loading = true; tick(); } });
    });
  };

  return { el, update };
}
