// Progress output: a redrawn bar on a terminal, occasional plain lines otherwise,
// and JSON lines on stdout for machines (--json).

export interface ProgressOptions {
  label: string;
  total: number;
  json?: boolean;
  stream?: NodeJS.WriteStream;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m % 60)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export class Progress {
  readonly #o: Required<ProgressOptions>;
  readonly #start = performance.now();
  #done = 0;
  #lastDraw = 0;

  constructor(options: ProgressOptions) {
    this.#o = { json: false, stream: process.stderr, ...options };
  }

  /** More work than planned (a stalled training that starts over): the total grows by n. */
  extend(n: number): void {
    this.#o.total += n;
  }

  /** Advances by n and shows the given fields (e.g. { loss: 0.42 }). */
  tick(n = 1, fields: Record<string, number | string> = {}): void {
    this.#done += n;
    const now = performance.now();
    const finished = this.#done >= this.#o.total;
    const elapsed = (now - this.#start) / 1000;
    const rate = this.#done / Math.max(elapsed, 1e-9);
    if (this.#o.json) {
      process.stdout.write(
        `${JSON.stringify({ event: "progress", task: this.#o.label, done: this.#done, total: this.#o.total, rate, ...fields })}\n`,
      );
      return;
    }
    const isTty = Boolean(this.#o.stream.isTTY);
    if (!finished && now - this.#lastDraw < (isTty ? 100 : 5000)) return;
    this.#lastDraw = now;
    const width = 24;
    const filled = Math.round((width * Math.min(this.#done, this.#o.total)) / this.#o.total);
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : v}`)
      .join("  ");
    const eta = (this.#o.total - this.#done) / rate;
    const line = `${this.#o.label} ${bar} ${this.#done}/${this.#o.total}  ${rate.toFixed(2)} it/s  ETA ${formatDuration(eta)}  ${extra}`;
    this.#o.stream.write(isTty ? `\r\x1b[2K${line}${finished ? "\n" : ""}` : `${line}\n`);
  }
}
