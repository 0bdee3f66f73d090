// The charts of a job page: training loss per step, validation loss, and full validation loss (with the base
// model's at step 0) — and for a DPO job its rewards — drawn as SVG with labelled axes and a hover readout.
// Not a general charting library.
import { h, svg, fill } from "./dom.js";

export const LOSS_SERIES = [
  { key: "train_loss", label: "Training loss", name: "train" },
  { key: "valid_loss", label: "Validation loss (batch)", name: "valid" },
  { key: "full_valid_loss", label: "Full validation loss", name: "full", dots: true },
];
/** What DPO users watch: the implicit rewards of the chosen and rejected answers, and their margin. */
export const REWARD_SERIES = [
  { key: "chosen_reward", label: "Chosen reward", name: "chosen" },
  { key: "rejected_reward", label: "Rejected reward", name: "rejected" },
  { key: "reward_margin", label: "Reward margin", name: "margin" },
];
// Drawing units of the viewBox; the SVG scales to its container's width.
const W = 640, H = 300;
const M = { left: 56, right: 14, top: 14, bottom: 44 };

/** About `count` round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
function ticks(lo, hi, count, integer) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw);
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const label = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

export class LossChart {
  constructor({ series = LOSS_SERIES, id = "loss-chart", label = "Loss by training step", axis = "Loss" } = {}) {
    this.series = series;
    this.axis = axis;
    // step → value per series, so an event seen twice (a reconnected stream replays its backlog) replaces itself.
    this.points = new Map(series.map((s) => [s.key, new Map()]));
    this.totalSteps = 0;
    this.pending = false;
    this.svg = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, id });
    this.legend = h("div", { class: "legend" });
    this.readout = h("div", { class: "readout small", "aria-live": "off" }, "\u00a0");
    this.el = h("figure", { class: "chart" }, this.svg, h("figcaption", {}, this.legend, this.readout));
    this.svg.addEventListener("pointermove", (e) => this.hover(e));
    this.svg.addEventListener("pointerleave", () => this.hover(null));
    this.draw();
  }

  /** Takes the `data` of a metrics event. */
  add(data) {
    if (typeof data.step !== "number") return;
    for (const s of this.series) {
      const v = data[s.key];
      if (typeof v === "number" && Number.isFinite(v)) this.points.get(s.key).set(data.step, v);
    }
    if (typeof data.total_steps === "number") this.totalSteps = Math.max(this.totalSteps, data.total_steps);
    this.schedule();
  }

  setTotalSteps(n) {
    if (typeof n === "number" && n > this.totalSteps) { this.totalSteps = n; this.schedule(); }
  }

  get count() { return [...this.points.values()].reduce((n, m) => n + m.size, 0); }

  // A burst of replayed events draws once, on the next frame.
  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  sorted(key) { return [...this.points.get(key).entries()].sort((a, b) => a[0] - b[0]); }

  draw() {
    const all = this.series.flatMap((s) => [...this.points.get(s.key).values()]);
    const steps = this.series.flatMap((s) => [...this.points.get(s.key).keys()]);
    if (all.length === 0) {
      fill(this.svg, svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" },
        "No metrics yet: the curves appear with the first training step."));
      fill(this.legend);
      return;
    }
    const xMax = Math.max(1, this.totalSteps, ...steps);
    let yLo = Math.min(...all), yHi = Math.max(...all);
    const pad = (yHi - yLo) * 0.08 || Math.abs(yHi) * 0.1 || 1;
    yLo = Math.max(0, yLo - pad);
    yHi += pad;
    const yTicks = ticks(yLo, yHi, 5, false);
    yLo = Math.min(yLo, yTicks[0]);
    yHi = Math.max(yHi, yTicks[yTicks.length - 1]);
    const x = (step) => M.left + (step / xMax) * (W - M.left - M.right);
    const y = (v) => H - M.bottom - ((v - yLo) / (yHi - yLo)) * (H - M.top - M.bottom);
    this.scale = { x, xMax };

    const grid = [], labels = [];
    for (const t of yTicks) {
      grid.push(svg("line", { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: "grid" }));
      labels.push(svg("text", { x: M.left - 6, y: y(t) + 4, "text-anchor": "end", class: "tick" }, label(t)));
    }
    for (const t of ticks(0, xMax, 6, true)) {
      grid.push(svg("line", { x1: x(t), x2: x(t), y1: M.top, y2: H - M.bottom, class: "grid" }));
      labels.push(svg("text", { x: x(t), y: H - M.bottom + 16, "text-anchor": "middle", class: "tick" }, String(t)));
    }
    const axes = [
      svg("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: "axis" }),
      svg("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: "axis" }),
      svg("text", { x: (M.left + W - M.right) / 2, y: H - 6, "text-anchor": "middle", class: "axis-title" }, "Training step"),
      svg("text", { x: 14, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle", class: "axis-title",
        transform: `rotate(-90 14 ${(M.top + H - M.bottom) / 2})` }, this.axis),
    ];

    const lines = [], shown = [];
    for (const s of this.series) {
      const pts = this.sorted(s.key);
      if (pts.length === 0) continue;
      shown.push(s);
      const d = pts.map(([step, v], i) => `${i ? "L" : "M"}${x(step).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      lines.push(svg("path", { d, class: `series series-${s.name}`, "data-points": pts.length }));
      if (s.dots || pts.length === 1) {
        for (const [step, v] of pts) lines.push(svg("circle", { cx: x(step), cy: y(v), r: 3.5, class: `dot series-${s.name}` }));
      }
    }
    this.guide = svg("line", { x1: 0, x2: 0, y1: M.top, y2: H - M.bottom, class: "guide", visibility: "hidden" });
    fill(this.svg, grid, axes, labels, lines, this.guide);
    fill(this.legend, shown.map((s) => h("span", { class: `key key-${s.name}` }, h("i"), s.label)));
  }

  /** Shows the values at the step under the pointer. */
  hover(e) {
    if (!e || !this.scale || this.count === 0) {
      if (this.guide) this.guide.setAttribute("visibility", "hidden");
      this.readout.textContent = "\u00a0";
      return;
    }
    const rect = this.svg.getBoundingClientRect();
    const vx = ((e.clientX - rect.left) / rect.width) * W;
    const want = ((vx - M.left) / (W - M.left - M.right)) * this.scale.xMax;
    const steps = [...new Set(this.series.flatMap((s) => [...this.points.get(s.key).keys()]))];
    const step = steps.reduce((best, s) => (Math.abs(s - want) < Math.abs(best - want) ? s : best), steps[0]);
    const gx = this.scale.x(step);
    this.guide.setAttribute("x1", gx);
    this.guide.setAttribute("x2", gx);
    this.guide.setAttribute("visibility", "visible");
    const values = this.series.filter((s) => this.points.get(s.key).has(step))
      .map((s) => `${s.label.toLowerCase()} ${this.points.get(s.key).get(step).toFixed(4)}`);
    this.readout.textContent = `Step ${step}: ${values.join(" · ")}`;
  }
}
