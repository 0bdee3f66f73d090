// The playground (#/playground): one prompt sent to two models side by side, both answers streaming at once, to
// compare a fine-tuned model with its base. Single-turn on purpose: a fair comparison needs the same context.
import * as api from "../api.js";
import { h, fill, errorBox, empty, link } from "../dom.js";

function modelSelect(id, models, extra) {
  const ids = models.map((m) => m.id);
  const bases = ids.filter((m) => !m.startsWith("ft:"));
  const tuned = ids.filter((m) => m.startsWith("ft:"));
  // A checkpoint (…:ckpt-step-N) is callable but not listed by /v1/models; a link from a job page brings it here.
  if (extra && !ids.includes(extra)) tuned.unshift(extra);
  return h("select", { id },
    h("optgroup", { label: "Base models" }, bases.map((m) => h("option", { value: m }, m))),
    tuned.length ? h("optgroup", { label: "Fine-tuned models" }, tuned.map((m) => h("option", { value: m }, m))) : null);
}

function side(name, select) {
  const output = h("div", { class: "output", id: `output-${name}`, "aria-live": "polite" });
  const stats = h("div", { class: "muted small", id: `stats-${name}` });
  const el = h("section", { class: "card side" }, h("label", { for: select.id }, name === "a" ? "Model A" : "Model B"), select, output, stats);
  return { name, select, output, stats, el };
}

/** Streams one answer into `s`; resolves when the model stops, rejects on an error or when aborted. */
async function answer(s, body, signal) {
  fill(s.output);
  s.output.classList.add("streaming");
  s.el.dataset.state = "streaming";
  fill(s.stats, "waiting for the first token…");
  const start = performance.now();
  let first = null, pieces = 0, finish = null, usage = null;
  try {
    const request = { ...body, model: s.select.value, stream: true, stream_options: { include_usage: true } };
    for await (const data of api.events("/chat/completions", { method: "POST", body: request, signal })) {
      if (data === "[DONE]") break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new api.ApiError(500, chunk);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      if (choice.delta?.content) {
        first ??= performance.now();
        pieces++;
        s.output.append(choice.delta.content);
        fill(s.stats, `${pieces} tokens…`);
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    const tokens = usage?.completion_tokens ?? pieces;
    const seconds = (performance.now() - (first ?? start)) / 1000;
    const rate = first && seconds > 0 && tokens > 1 ? ` · ${((tokens - 1) / seconds).toFixed(1)} tokens/s` : "";
    const ttft = first ? ` · first token after ${((first - start) / 1000).toFixed(2)} s` : "";
    fill(s.stats, `${tokens} tokens${ttft}${rate} · finish: ${finish ?? "—"}`);
    if (!s.output.textContent) fill(s.output, h("span", { class: "muted" }, "(empty answer)"));
    s.el.dataset.state = "done";
  } catch (err) {
    s.el.dataset.state = api.isAbort(err) ? "stopped" : "error";
    if (api.isAbort(err)) fill(s.stats, "stopped");
    else { fill(s.stats); s.output.append(errorBox(err)); }
  } finally {
    s.output.classList.remove("streaming");
  }
}

export async function render(view, ctx) {
  document.title = "Playground · Tailor";
  const models = (await api.get("/models", ctx)).data;
  const head = h("div", { class: "page-head" }, h("h1", {}, "Playground"));
  if (models.length === 0) {
    fill(view, head, empty("The server has no model to chat with. Start it with ", h("code", {}, "--model PATH"), "."));
    return;
  }
  const wanted = ctx.query.get("model");
  const a = side("a", modelSelect("model-a", models));
  const b = side("b", modelSelect("model-b", models, wanted));
  const tuned = models.filter((m) => m.id.startsWith("ft:")).sort((x, y) => y.created - x.created);
  b.select.value = wanted || tuned[0]?.id || models[0].id;

  const system = h("textarea", { id: "system", rows: 2, placeholder: "Optional system message, sent to both" });
  const prompt = h("textarea", { id: "prompt", rows: 3, required: true, placeholder: "Ask both models the same thing…" });
  const maxTokens = h("input", { type: "number", id: "max-tokens", min: 1, max: 4096, step: 1, value: "200" });
  const temperature = h("input", { type: "number", id: "temperature", min: 0, max: 2, step: 0.1, value: "0.7" });
  const seed = h("input", { type: "number", id: "seed", min: 0, step: 1, placeholder: "random" });
  const send = h("button", { type: "submit", id: "send" }, "Send to both");
  const stop = h("button", { type: "button", class: "secondary", id: "stop", disabled: true }, "Stop");
  let run = null;

  const form = h("form", { class: "card form", id: "playground-form" },
    h("div", { class: "field" }, h("label", { for: "system" }, "System message"), system),
    h("div", { class: "field" }, h("label", { for: "prompt" }, "Prompt"), prompt),
    h("div", { class: "row compact" },
      h("div", { class: "field" }, h("label", { for: "max-tokens" }, "Max tokens"), maxTokens),
      h("div", { class: "field" }, h("label", { for: "temperature" }, "Temperature"), temperature),
      h("div", { class: "field" }, h("label", { for: "seed" }, "Seed"), seed)),
    h("div", { class: "actions" }, send, stop, h("span", { class: "muted small" }, "Ctrl+Enter sends")));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!prompt.value.trim()) { prompt.focus(); return; }
    run?.abort();
    const controller = new AbortController();
    run = controller;
    const signal = AbortSignal.any([ctx.signal, controller.signal]);
    const messages = [];
    if (system.value.trim()) messages.push({ role: "system", content: system.value.trim() });
    messages.push({ role: "user", content: prompt.value });
    const body = { messages, max_tokens: Number(maxTokens.value) || 200, temperature: Number(temperature.value) };
    if (seed.value.trim()) body.seed = Number(seed.value);
    stop.disabled = false;
    await Promise.all([answer(a, body, signal), answer(b, body, signal)]);
    if (run === controller) { stop.disabled = true; run = null; }
  });
  stop.addEventListener("click", () => run?.abort());
  prompt.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });

  fill(view, head,
    h("p", { class: "help" }, "Both answers stream at once from the same server, which batches them together. ",
      "Fine-tuned models come from ", link("#/jobs", "your jobs"), "; a job's checkpoints can be tried from its page."),
    form, h("div", { class: "sides" }, a.el, b.el));
  prompt.focus();
}
