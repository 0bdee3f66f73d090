// The form that starts a fine-tuning job (#/jobs/new): files, base model, suffix and seed, OpenAI's three
// hyperparameters with their "auto" rules spelled out, and Tailor's LoRA options. The server validates; this shows.
import * as api from "../api.js";
import { h, fill, link, errorBox, empty, bytes, jobHref } from "../dom.js";

// The server's rules for "auto" (TailorJobs/Hyperparameters.swift), repeated so the form can say what they give.
const autoEpochs = (n) => (n * 3 < 100 ? Math.min(25, Math.floor(100 / n)) : n * 3 > 25000 ? Math.max(1, Math.floor(25000 / n)) : 3);
const autoBatch = (n) => Math.min(256, Math.max(4, Math.ceil(0.002 * n)));
// Files up to this size are read to count their examples for the preview; bigger ones are not worth the download.
const PREVIEW_BYTES = 4 * 1024 * 1024;

function field(labelText, input, help) {
  return h("div", { class: "field" }, h("label", { for: input.id }, labelText), input, help ? h("p", { class: "help" }, help) : null);
}

function numberInput(id, param, attrs) {
  return h("input", { type: "number", id, name: id, "data-param": param, placeholder: "auto", inputmode: "decimal", ...attrs });
}

function fileOption(f) {
  return h("option", { value: f.id }, `${f.filename} (${bytes(f.bytes)}, ${f.id})`);
}

export async function render(view, ctx) {
  document.title = "New job · Tailor";
  const [models, files] = await Promise.all([api.get("/models", ctx), api.get("/files?purpose=fine-tune", ctx)]);
  const bases = models.data.filter((m) => !m.id.startsWith("ft:"));
  const tuned = models.data.filter((m) => m.id.startsWith("ft:")).sort((a, b) => b.created - a.created);
  const usable = files.data.filter((f) => f.status !== "error");

  const head = h("div", { class: "page-head" }, h("h1", {}, "New fine-tuning job"));
  if (bases.length === 0 && tuned.length === 0) {
    fill(view, head, empty("The server has no base model. Start ", h("code", {}, "tailor serve"), " with ",
      h("code", {}, "--model PATH"), " (or run ", h("code", {}, "tailor models add PATH"), ") and reload."));
    return;
  }
  if (usable.length === 0) {
    fill(view, head, empty("There is no training file yet. ", link("#/files", "Upload a .jsonl file"),
      " with purpose fine-tune (one {\"messages\": […]} conversation per line, at least 10 lines), then come back."));
    return;
  }

  const model = h("select", { id: "model", "data-param": "model" },
    h("optgroup", { label: "Base models" }, bases.map((m) => h("option", { value: m.id }, m.id))),
    tuned.length ? h("optgroup", { label: "Your fine-tuned models (train further)" }, tuned.map((m) => h("option", { value: m.id }, m.id))) : null);
  const training = h("select", { id: "training-file", "data-param": "training_file" }, usable.map(fileOption));
  const wanted = ctx.query.get("training_file");
  if (wanted && usable.some((f) => f.id === wanted)) training.value = wanted;
  const validation = h("select", { id: "validation-file", "data-param": "validation_file" },
    h("option", { value: "" }, "None"), usable.map(fileOption));
  const suffix = h("input", { id: "suffix", "data-param": "suffix", maxlength: 64, pattern: "[A-Za-z0-9._\\-]+", placeholder: "e.g. support-bot" });
  const seed = h("input", { type: "number", id: "seed", "data-param": "seed", min: 0, max: 2147483647, step: 1, placeholder: "random" });
  const epochs = numberInput("n-epochs", "method.supervised.hyperparameters.n_epochs", { min: 1, max: 50, step: 1 });
  const batch = numberInput("batch-size", "method.supervised.hyperparameters.batch_size", { min: 1, max: 256, step: 1 });
  const multiplier = numberInput("lr-multiplier", "method.supervised.hyperparameters.learning_rate_multiplier", { min: 0, step: "any" });
  const rank = numberInput("lora-rank", "tailor", { min: 1, max: 256, step: 1, placeholder: "8" });
  const alpha = numberInput("lora-alpha", "tailor", { min: 0, step: "any", placeholder: "2 × rank" });
  const interval = numberInput("checkpoint-interval", "tailor", { min: 0, step: 1, placeholder: "0 (epoch ends only)" });
  const patience = numberInput("early-stopping", "tailor", { min: 0, step: 1, placeholder: "off" });
  const best = h("input", { type: "checkbox", id: "use-best", "data-param": "tailor" });
  const preview = h("p", { class: "help", id: "auto-preview" });
  const message = h("div");
  const submit = h("button", { type: "submit", id: "create-job" }, "Start fine-tuning");

  // Counting lines is enough: the server refuses files that are not one JSON object per non-empty line.
  let counted = 0;
  const explain = async () => {
    const f = usable.find((x) => x.id === training.value);
    const ask = ++counted;
    if (!f || f.bytes > PREVIEW_BYTES) { fill(preview, "The resolved values appear on the job page once training starts."); return; }
    try {
      const text = await (await api.blob(`/files/${encodeURIComponent(f.id)}/content`, ctx)).text();
      if (ask !== counted) return;
      const n = text.split("\n").filter((line) => line.trim()).length;
      fill(preview, `This file has ${n} examples, so "auto" means ${autoEpochs(n)} epochs and batch size ${autoBatch(n)}.`);
    } catch (err) {
      if (!api.isAbort(err)) fill(preview, "The file could not be read for a preview; the job page shows the resolved values.");
    }
  };
  training.addEventListener("change", explain);

  const form = h("form", { class: "card form", id: "new-job-form" },
    h("h2", {}, "Data and model"),
    field("Base model", model, "Fine-tuned models can be trained further on new data."),
    field("Training file", training, h("span", {}, "Uploaded with purpose fine-tune. ", link("#/files", "Upload another"), ".")),
    field("Validation file (optional)", validation,
      "Evaluated at step 0 (the base model) and at each epoch end as the full validation loss; it can be the training file."),
    h("div", { class: "row" },
      field("Suffix (optional)", suffix, "Becomes part of the model name: ft:base:project:suffix:…"),
      field("Seed (optional)", seed, "The same seed and data give the same adapter.")),
    h("h2", {}, "Hyperparameters"),
    h("p", { class: "help" }, "Leave a box empty for \"auto\"."),
    h("div", { class: "row" },
      field("Epochs", epochs, "auto: 3, or more for small files so that about 100 examples are seen (at most 25)."),
      field("Batch size", batch, "auto: 0.2 % of the examples, at least 4 and at most 256."),
      field("Learning rate multiplier", multiplier, "auto: 1.0, times Tailor's base LoRA learning rate of 1e-3.")),
    preview,
    h("details", { class: "advanced" }, h("summary", {}, "LoRA and checkpoint options (Tailor extensions)"),
      h("div", { class: "row" },
        field("LoRA rank", rank, "Size of the adapter; 8 suits style and format changes on small models."),
        field("LoRA alpha", alpha, "Scale of the update is alpha / rank; the default 2 × rank keeps the step size."),
        field("Checkpoint interval", interval, "Also write a checkpoint every N steps; epoch ends always write one."),
        field("Early stopping patience", patience, "Stop after N epochs without a better full validation loss (needs a validation file).")),
      h("label", { class: "check" }, best, " Use the checkpoint with the lowest full validation loss as the job's model")),
    message, h("div", { class: "actions" }, submit));

  const optionalNumber = (input) => (input.value.trim() === "" ? undefined : Number(input.value));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    const hyperparameters = {
      n_epochs: optionalNumber(epochs) ?? "auto",
      batch_size: optionalNumber(batch) ?? "auto",
      learning_rate_multiplier: optionalNumber(multiplier) ?? "auto",
    };
    const tailor = Object.fromEntries(Object.entries({
      lora_rank: optionalNumber(rank), lora_alpha: optionalNumber(alpha), checkpoint_interval: optionalNumber(interval),
      early_stopping_patience: optionalNumber(patience), use_best_checkpoint: best.checked || undefined,
    }).filter(([, v]) => v !== undefined));
    const body = { model: model.value, training_file: training.value,
      method: { type: "supervised", supervised: { hyperparameters } } };
    if (validation.value) body.validation_file = validation.value;
    if (suffix.value.trim()) body.suffix = suffix.value.trim();
    if (seed.value.trim()) body.seed = Number(seed.value);
    if (Object.keys(tailor).length) body.tailor = tailor;
    submit.disabled = true;
    fill(message);
    try {
      const job = await api.post("/fine_tuning/jobs", body, ctx);
      ctx.go(jobHref(job.id));
    } catch (err) {
      if (api.isAbort(err)) return;
      fill(message, errorBox(err));
      const culprit = err.param && form.querySelector(`[data-param="${CSS.escape(err.param)}"]`);
      if (culprit) { culprit.closest("details")?.setAttribute("open", ""); culprit.classList.add("invalid"); culprit.focus(); }
      submit.disabled = false;
    }
  });

  fill(view, head, form);
  explain();
}
