// What the eval pages share: reading a run's output items page by page, each criterion's mean score and pass counts
// from them, and the answer, reference and input an item shows. No DOM here.
import * as api from "./api.js";

export const TERMINAL_RUN = new Set(["completed", "failed", "canceled"]);

export const runHref = (evalID, runID) => `#/evals/${encodeURIComponent(evalID)}/runs/${encodeURIComponent(runID)}`;

export const runPath = (evalID, runID) => `/evals/${encodeURIComponent(evalID)}/runs/${encodeURIComponent(runID)}`;

/** Every output item of a run, oldest first (100 a page). */
export async function allOutputItems(evalID, runID, ctx) {
  const items = [];
  let after = null;
  for (;;) {
    const query = new URLSearchParams({ limit: "100" });
    if (after) query.set("after", after);
    const page = await api.get(`${runPath(evalID, runID)}/output_items?${query}`, ctx);
    items.push(...page.data);
    if (!page.has_more || page.data.length === 0) return items;
    after = page.data[page.data.length - 1].id;
  }
}

/** A criterion's name as results report it (the stored id is `name-uuid`). */
export const criterionName = (c) => c.name;

/** The result of criterion `name` in an output item, or undefined. */
export const resultOf = (item, name) => (item.results || []).find((r) => r.name === name);

/**
 * Per criterion: the mean score over the items graded without error, and how many passed, failed, or could not
 * be graded (the item errored).
 */
export function criterionStats(criteria, items) {
  return criteria.map((c) => {
    let sum = 0, scored = 0, passed = 0, failed = 0, errored = 0;
    for (const item of items) {
      const r = resultOf(item, c.name);
      if (!r || r.error || item.status === "error") { errored++; continue; }
      sum += r.score; scored++;
      if (r.passed) passed++; else failed++;
    }
    return { name: c.name, type: c.type, mean: scored ? sum / scored : null, scored, passed, failed, errored };
  });
}

/** The model's answer in an output item's sample ("" when there is none). */
export function answerOf(item) {
  const out = item?.sample?.output;
  return Array.isArray(out) && out.length ? String(out[0].content ?? "") : "";
}

/** A fine-tuning job's evaluation item keeps its reference answer under `reference`. */
export const referenceOf = (item) => String(item?.datasource_item?.reference ?? "");

/** The last user message (or the plain prompt) an item asked. */
export function promptOf(item) {
  const d = item?.datasource_item || {};
  if (typeof d.prompt === "string") return d.prompt;
  const users = (d.messages || []).filter((m) => m.role === "user");
  const last = users[users.length - 1];
  if (!last) return "";
  return typeof last.content === "string" ? last.content : (last.content || []).map((p) => p.text || "").join("");
}

export const score = (x) => (typeof x === "number" ? x.toFixed(3) : "—");

export function signed(x) {
  if (typeof x !== "number") return "—";
  const s = x.toFixed(3);
  return x > 0 ? `+${s}` : s;
}
