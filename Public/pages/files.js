// The files page (#/files): upload with a progress bar, the project's files, delete. Uploads go through XHR for its
// progress events; the server checks a fine-tune file line by line and its error message names the bad line.
import * as api from "../api.js";
import { h, fill, link, errorBox, empty, time, bytes } from "../dom.js";

const JSONL = ".jsonl,application/jsonl,application/x-ndjson";
const PURPOSES = ["fine-tune", "assistants", "batch", "user_data", "vision", "evals"];

function row(f, remove) {
  const start = f.purpose === "fine-tune"
    ? link(`#/jobs/new?training_file=${encodeURIComponent(f.id)}`, "Start a job", { class: "small" }) : null;
  return h("tr", { "data-file": f.id },
    h("td", {}, h("div", { class: "wrap" }, f.filename), h("code", { class: "muted small" }, f.id)),
    h("td", {}, f.purpose),
    h("td", { class: "num" }, bytes(f.bytes)),
    h("td", { class: "wide-only" }, time(f.created_at)),
    h("td", {}, f.status, f.status_details ? h("div", { class: "muted small" }, f.status_details) : null),
    h("td", { class: "row-actions" }, start,
      h("button", { type: "button", class: "danger small", "data-delete": f.id, onclick: () => remove(f) }, "Delete")));
}

export async function render(view, ctx) {
  document.title = "Files · Tailor";
  let files = [];
  const message = h("div", { id: "files-message" });
  const list = h("div", { id: "files-list" });

  const input = h("input", { type: "file", id: "upload-file", accept: JSONL, required: true });
  const purpose = h("select", { id: "upload-purpose" }, PURPOSES.map((p) => h("option", { value: p }, p)));
  // The picker's filter is only a hint, and only fine-tune files must be JSONL.
  purpose.addEventListener("change", () => { input.accept = purpose.value === "fine-tune" ? JSONL : ""; });
  const bar = h("progress", { id: "upload-progress", max: 1, value: 0, hidden: true });
  const percent = h("span", { class: "muted small", id: "upload-percent" });
  const submit = h("button", { type: "submit", id: "upload-button" }, "Upload");
  const form = h("form", { class: "card form upload", id: "upload-form" },
    h("h2", {}, "Upload a file"),
    h("p", { class: "help" }, "Training data is JSONL: one ", h("code", {}, "{\"messages\": [{\"role\": …, \"content\": …}, …]}"),
      " conversation per line (or ", h("code", {}, "{\"prompt\", \"completion\"}"), "), at least 10 lines."),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "upload-file" }, "File"), input),
      h("div", { class: "field" }, h("label", { for: "upload-purpose" }, "Purpose"), purpose)),
    h("div", { class: "actions" }, submit, bar, percent));

  const show = () => {
    if (files.length === 0) {
      fill(list, empty("No files yet. Upload a .jsonl training file above to start fine-tuning."));
      return;
    }
    fill(list, h("div", { class: "table-wrap" }, h("table", { id: "files-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "File"), h("th", {}, "Purpose"), h("th", { class: "num" }, "Size"),
        h("th", { class: "wide-only" }, "Uploaded"), h("th", {}, "Status"), h("th", {}))),
      h("tbody", {}, files.map((f) => row(f, remove))))));
  };

  const load = async () => {
    files = (await api.get("/files", ctx)).data;
    show();
  };

  const remove = async (f) => {
    if (!window.confirm(`Delete ${f.filename} (${f.id})? Jobs that already used it keep their results.`)) return;
    try {
      await api.del(`/files/${encodeURIComponent(f.id)}`, ctx);
      fill(message, h("p", { class: "notice" }, `Deleted ${f.filename}.`));
      await load();
    } catch (err) {
      if (!api.isAbort(err)) fill(message, errorBox(err));
    }
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = input.files[0];
    if (!file) return;
    submit.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    fill(message);
    const progress = (fraction) => { bar.value = fraction; percent.textContent = `${Math.round(fraction * 100)} %`; };
    progress(0);
    try {
      const uploaded = await api.upload(file, purpose.value, progress);
      progress(1);
      fill(message, h("p", { class: "notice", id: "upload-done" }, `Uploaded ${uploaded.filename} as `, h("code", {}, uploaded.id), ". ",
        uploaded.purpose === "fine-tune" ? link(`#/jobs/new?training_file=${encodeURIComponent(uploaded.id)}`, "Start a job with it") : null));
      form.reset();
      if (!ctx.signal.aborted) await load();
    } catch (err) {
      fill(message, errorBox(err));
      percent.textContent = "";
      bar.hidden = true;
    } finally {
      submit.disabled = false;
    }
  });

  await load();
  fill(view, h("div", { class: "page-head" }, h("h1", {}, "Files")), form, message, h("section", {}, h("h2", {}, "Your files"), list));
}
