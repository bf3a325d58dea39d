// Prefetching batches from the loader thread so the training step never waits on I/O when it can help it.
import { Worker } from "node:worker_threads";
import type { LoaderInit } from "./loader-worker.js";

export interface Batch {
  iteration: number;
  data: Float32Array;
  target: Int16Array;
  lesions: (number | null)[];
}

export class Loader {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (b: Batch) => void; reject: (e: Error) => void; promise: Promise<Batch> }
  >();
  #next = 0;
  /** Seconds the training loop spent waiting for batches. */
  waited = 0;

  constructor(
    init: LoaderInit,
    readonly first: number,
    readonly last: number,
    readonly depth = 3,
  ) {
    this.#worker = new Worker(new URL("./loader-worker.js", import.meta.url), { workerData: init });
    this.#worker.on("message", (b: Batch) => this.#pending.get(b.iteration)?.resolve(b));
    this.#worker.on("error", (e) => {
      for (const p of this.#pending.values()) p.reject(e);
    });
    this.#next = first;
    for (let i = 0; i < depth; i++) this.#request();
  }

  #request(): void {
    if (this.#next >= this.last) return;
    const iteration = this.#next++;
    let resolve!: (b: Batch) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Batch>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#pending.set(iteration, { resolve, reject, promise });
    this.#worker.postMessage({ iteration });
  }

  async get(iteration: number): Promise<Batch> {
    const entry = this.#pending.get(iteration);
    if (!entry) throw new Error(`batch ${iteration} was not requested`);
    const started = performance.now();
    const batch = await entry.promise;
    this.waited += (performance.now() - started) / 1000;
    this.#pending.delete(iteration);
    this.#request();
    return batch;
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
