// Entry point of runInWorker's threads: imports the job module, runs it, posts the result.
import { parentPort, workerData } from "node:worker_threads";

const { module, exportName, input } = workerData as { module: string; exportName: string; input: unknown };
const port = parentPort!;
try {
  const imported = (await import(module)) as Record<string, unknown>;
  const job = imported[exportName];
  if (typeof job !== "function") throw new Error(`${module} has no exported function ${exportName}`);
  const report = (value: unknown) => port.postMessage({ kind: "report", value });
  const value = await job(input, report);
  port.postMessage({ kind: "done", value });
} catch (error) {
  const e = error as Error;
  port.postMessage({ kind: "error", error: e.message ?? String(error), stack: e.stack });
}
