// Runs long work (training, inference) on a worker thread so that the main thread's
// event loop (progress bars, a web server) stays responsive. The worker loads its own copy
// of the addon; tensors do not cross threads, only structured-cloneable values do.
import { Worker } from "node:worker_threads";

export interface WorkerTask<I> {
  /** URL of an ES module (e.g. new URL("./job.js", import.meta.url).href). */
  module: string;
  /** Name of the exported function: (input, report) => result | Promise<result>. */
  exportName: string;
  input: I;
  /** Receives every value the job passes to report(). */
  onReport?: (message: unknown) => void;
}

export type Report = (message: unknown) => void;

export function runInWorker<I, O>(task: WorkerTask<I>): Promise<O> {
  return new Promise<O>((resolve, reject) => {
    const worker = new Worker(new URL("./worker-entry.js", import.meta.url), {
      workerData: { module: task.module, exportName: task.exportName, input: task.input },
    });
    let settled = false;
    worker.on("message", (message: { kind: string; value?: unknown; error?: string; stack?: string }) => {
      if (message.kind === "report") task.onReport?.(message.value);
      else if (message.kind === "done") {
        settled = true;
        resolve(message.value as O);
      } else if (message.kind === "error") {
        settled = true;
        const error = new Error(message.error);
        error.stack = message.stack;
        reject(error);
      }
    });
    worker.on("error", (error) => {
      settled = true;
      reject(error);
    });
    worker.on("exit", (code) => {
      if (!settled) reject(new Error(`worker exited with code ${code} before finishing`));
    });
  });
}

/**
 * Runs one worker task per item, at most `concurrency` at a time, and returns the results in order.
 * onDone is called as each item finishes (for progress bars).
 */
export async function mapInWorkers<I, O>(
  items: readonly I[],
  task: Omit<WorkerTask<I>, "input">,
  concurrency: number,
  onDone?: (index: number, result: O) => void,
): Promise<O[]> {
  const results: O[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await runInWorker<I, O>({ ...task, input: items[index] });
      onDone?.(index, results[index]);
    }
  });
  await Promise.all(lanes);
  return results;
}
