// A job's page (#/jobs/{id}): status and actions, live loss curves and events, base vs fine-tuned on the test file
// (job-evaluation.js), hyperparameters, checkpoints and the error of a failed job. The event stream replays the job's whole history before going live, so one path draws both.
import * as api from "../api.js";
import { LossChart, REWARD_SERIES } from "../chart.js";
import { h, fill, badge, link, details, errorBox, empty, time, clock, duration, number, loss, playgroundHref } from "../dom.js";
import { evaluationSection } from "./job-evaluation.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
// Which states each action applies in, as the server's JobStateMachine has them.
const ACTIONS = [
  { name: "pause", label: "Pause", from: ["validating_files", "queued", "running"] },
  { name: "resume", label: "Resume", from: ["paused"] },
  { name: "cancel", label: "Cancel job", from: ["validating_files", "queued", "running", "paused"], danger: true,
    confirm: "Cancel this job? It stops at the end of the current step and cannot be resumed." },
];
const BASE_LEARNING_RATE = 1e-3;
/** A DPO job's base LoRA rate (JobOptions.preferenceLearningRate). */
const DPO_BASE_LEARNING_RATE = 2e-4;

const wait = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("left the page", "AbortError")); },
    { once: true });
});

function modelLink(model) {
  return [h("code", { class: "wrap" }, model), " ", link(playgroundHref(model), "Try it", { class: "small" })];
}

function progress(job) {
  const total = job.tailor?.total_steps;
  if (!total) return job.status === "succeeded" ? "done" : "not started";
  return [h("progress", { max: total, value: job.tailor.step }), ` step ${job.tailor.step} of ${total}`];
}

function summary(job, download) {
  const running = job.status === "running" && job.estimated_finish;
  return details([
    ["Status", badge(job.status)],
    ["Progress", progress(job)],
    running && ["Estimated finish", `${clock(job.estimated_finish)} (in ${duration(job.estimated_finish - Date.now() / 1000)})`],
    ["Base model", job.model],
    ["Fine-tuned model", job.fine_tuned_model ? h("span", { id: "fine-tuned-model" }, modelLink(job.fine_tuned_model)) : "—"],
    ["Training file", h("code", {}, job.training_file)],
    ["Validation file", job.validation_file ? h("code", {}, job.validation_file) : "none"],
    job.tailor?.evaluation && ["Test file", h("code", {}, job.tailor.evaluation.file)],
    ["Created", time(job.created_at)],
    ["Finished", time(job.finished_at)],
    ["Trained tokens", number(job.trained_tokens)],
    ["Suffix", job.user_provided_suffix],
    ["Seed", String(job.seed)],
    job.result_files?.length > 0 && ["Results", h("button", { type: "button", class: "link", onclick: () => download(job.result_files[0]) }, "Download metrics CSV")],
  ]);
}

function hyperparameters(job) {
  const hp = job.hyperparameters || {};
  const o = job.tailor?.options || {};
  const auto = (v, rule) => (v === "auto" || v === undefined ? h("span", {}, "auto ", h("span", { class: "muted" }, `(${rule})`)) : String(v));
  const fallback = (v, text) => (v === undefined || v === null ? h("span", { class: "muted" }, text) : String(v));
  const dpo = job.method?.type === "dpo";
  const base = o.base_learning_rate ?? (dpo ? DPO_BASE_LEARNING_RATE : BASE_LEARNING_RATE);
  const multiplier = hp.learning_rate_multiplier;
  const rate = typeof multiplier === "number" ? (multiplier * base).toPrecision(3) : null;
  const rank = o.lora_rank ?? 8;
  return details([
    ["Epochs", auto(hp.n_epochs, "resolved from the example count when training starts")],
    ["Batch size", auto(hp.batch_size, "resolved from the example count when training starts")],
    ["Learning rate multiplier", auto(multiplier, "1.0")],
    rate && ["Learning rate", `${rate} (multiplier × ${base})`],
    dpo && ["DPO beta", auto(job.method?.dpo?.hyperparameters?.beta, "0.1")],
    ["LoRA rank", fallback(o.lora_rank, "8 (default)")],
    ["LoRA alpha", fallback(o.lora_alpha, `${2 * rank} (default: 2 × rank)`)],
    ["LoRA targets", o.lora_targets ? o.lora_targets.join(", ") : h("span", { class: "muted" }, "all projections (default)")],
    ["Checkpoint interval", fallback(o.checkpoint_interval, "epoch ends only (default)")],
    ["Use best checkpoint", fallback(o.use_best_checkpoint, "no (default)")],
    ["Early stopping patience", fallback(o.early_stopping_patience, "off (default)")],
    (o.input_field || o.target_field) && ["Fields", `${o.input_field || "prompt"} → ${o.target_field || "completion"}`],
    (o.max_source_tokens || o.max_target_tokens) && ["Truncation", `prompt ${o.max_source_tokens ?? "not cut"}, completion ${o.max_target_tokens ?? "not cut"} (tokens)`],
  ]);
}

function checkpointTable(list) {
  if (list.length === 0) return empty("No checkpoints yet: one is written at the end of each epoch.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Step"), h("th", {}, "Model"), h("th", { class: "num" }, "Training loss"),
      h("th", { class: "num" }, "Full validation loss"), h("th", { class: "wide-only" }, "Created"))),
    h("tbody", {}, list.map((c) => h("tr", {},
      h("td", { class: "num" }, String(c.step_number)), h("td", {}, modelLink(c.fine_tuned_model_checkpoint)),
      h("td", { class: "num" }, loss(c.metrics?.train_loss)), h("td", { class: "num" }, loss(c.metrics?.full_valid_loss)),
      h("td", { class: "wide-only" }, time(c.created_at)))))));
}

function eventItem(e) {
  return h("li", { class: `event level-${e.level} type-${e.type}` },
    h("time", { datetime: new Date(e.created_at * 1000).toISOString() }, clock(e.created_at)),
    h("span", { class: "level" }, e.level), h("span", { class: "message" }, e.message));
}

export async function render(view, ctx) {
  const id = ctx.params[0];
  const path = `/fine_tuning/jobs/${encodeURIComponent(id)}`;
  let job = await api.get(path, ctx);
  let checkpoints = [];
  document.title = `${id} · Tailor`;

  const chart = new LossChart();
  const evaluation = evaluationSection(ctx);
  const rewards = new LossChart({ series: REWARD_SERIES, id: "reward-chart", label: "DPO rewards by training step", axis: "Reward" });
  const title = h("div", { class: "page-head" });
  const actions = h("div", { class: "actions", id: "job-actions" });
  const actionMessage = h("div");
  const failure = h("div", { id: "job-error" });
  const facts = h("div", { id: "job-summary" });
  const hyper = h("div", { id: "job-hyperparameters" });
  const ckpts = h("div", { id: "job-checkpoints" });
  const log = h("ol", { class: "events", id: "job-events" });
  const streamNote = h("span", { class: "muted small", id: "stream-state" });
  const metricsToggle = h("input", { type: "checkbox", checked: true,
    onchange: () => log.classList.toggle("hide-metrics", !metricsToggle.checked) });

  const download = async (fileID) => {
    try {
      const url = URL.createObjectURL(await api.blob(`/files/${encodeURIComponent(fileID)}/content`, ctx));
      h("a", { href: url, download: `${id}-metrics.csv` }).click();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { if (!api.isAbort(err)) fill(actionMessage, errorBox(err)); }
  };

  const act = async (action, buttons) => {
    if (action.confirm && !window.confirm(action.confirm)) return;
    buttons.forEach((b) => { b.disabled = true; });
    try {
      job = await api.post(`${path}/${action.name}`, {}, ctx);
      fill(actionMessage);
    } catch (err) {
      if (api.isAbort(err)) return;
      fill(actionMessage, errorBox(err));
    }
    show();
  };

  const show = () => {
    fill(title, h("h1", { class: "wrap" }, job.user_provided_suffix ? `Job ${job.user_provided_suffix}` : "Job", " ",
      h("code", { class: "muted" }, job.id)), h("span", { id: "job-status", "data-status": job.status }, badge(job.status)));
    const buttons = [];
    for (const a of ACTIONS) {
      const button = h("button", { type: "button", class: a.danger ? "danger" : "secondary", id: `job-${a.name}`,
        disabled: !a.from.includes(job.status) }, a.label);
      button.addEventListener("click", () => act(a, buttons));
      buttons.push(button);
    }
    fill(actions, TERMINAL.has(job.status) ? null : buttons);
    fill(failure, job.error && job.status === "failed"
      ? [h("h2", {}, "Why the job failed"), errorBox({ message: job.error.message, code: job.error.code, param: job.error.param })] : null);
    fill(facts, summary(job, download));
    fill(hyper, hyperparameters(job));
    fill(ckpts, checkpointTable(checkpoints));
    chart.setTotalSteps(job.tailor?.total_steps);
    rewards.setTotalSteps(job.tailor?.total_steps);
    evaluation.update(job);
  };

  // One refresh at a time, and at most one waiting: a replayed backlog of hundreds of events asks only twice.
  let refreshing = null, again = false;
  const refresh = async () => {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      do {
        again = false;
        const [j, c] = await Promise.all([api.get(path, ctx), api.get(`${path}/checkpoints?limit=100`, ctx)]);
        job = j;
        checkpoints = c.data.slice().sort((a, b) => b.step_number - a.step_number);
        show();
      } while (again);
    })().finally(() => { refreshing = null; });
    return refreshing;
  };
  const refreshQuietly = () => refresh().catch((err) => { if (!api.isAbort(err)) fill(actionMessage, errorBox(err)); });

  const seen = new Set();
  const receive = (e) => {
    if (seen.has(e.id)) return;
    seen.add(e.id);
    log.prepend(eventItem(e));
    if (e.type === "metrics" && e.data) { chart.add(e.data); rewards.add(e.data); }
    refreshQuietly();
  };

  // The stream ends when the job does; a dropped connection is retried, and the replay is de-duplicated by id.
  const follow = async () => {
    for (;;) {
      fill(streamNote, TERMINAL.has(job.status) ? "" : "live");
      try {
        for await (const data of api.events(`${path}/events?stream=true`, ctx)) receive(JSON.parse(data));
      } catch (err) {
        if (api.isAbort(err)) return;
        fill(streamNote, `stream interrupted (${err.message}); retrying`);
      }
      await refresh();
      if (TERMINAL.has(job.status)) { fill(streamNote); return; }
      await wait(3000, ctx.signal);
    }
  };

  show();
  fill(view,
    h("nav", { class: "crumbs" }, link("#/jobs", "Jobs"), " / ", h("span", { class: "mono" }, id)),
    title, h("div", { class: "toolbar" }, actions), actionMessage, failure,
    h("div", { class: "job-grid" },
      h("section", { class: "card" }, h("h2", {}, "Overview"), facts),
      h("section", { class: "card chart-card" }, h("h2", {}, "Loss"), chart.el)),
    job.method?.type === "dpo" ? h("div", { class: "job-grid" },
      h("section", { class: "card" }, h("h2", {}, "Preference training"),
        h("p", { class: "small" }, "DPO rewards each answer by how much likelier the model makes it than the reference ",
          "(the model the job started from), times beta. Training raises the chosen answers' reward over the rejected ",
          "ones'; the margin is their difference, and the loss falls from log 2 ≈ 0.693 as it grows.")),
      h("section", { class: "card chart-card" }, h("h2", {}, "Rewards"), rewards.el)) : null,
    job.tailor?.evaluation ? evaluation.el : null,
    h("div", { class: "job-grid" },
      h("section", { class: "card" }, h("h2", {}, "Hyperparameters"), hyper),
      h("section", { class: "card" }, h("h2", {}, "Checkpoints"), ckpts)),
    h("section", { class: "card" },
      h("div", { class: "section-head" }, h("h2", {}, "Events ", streamNote),
        h("label", { class: "small" }, metricsToggle, " step metrics")),
      log));
  await refresh();
  await follow();
}
