// A rank of the collectives test: argv = port rank worldSize mode. Prints one JSON line of results.
import { ProcessGroup, tensor } from "../../src/engine/index.js";

const [port, rank, worldSize] = process.argv.slice(2, 5).map(Number);
const mode = process.argv[5] ?? "collectives";
const group = ProcessGroup.init({
  backend: "gloo",
  host: "127.0.0.1",
  port,
  rank,
  worldSize,
  timeoutMs: Number(process.env.DIST_TIMEOUT_MS ?? 20000),
  serveStore: rank === 0,
});
if (mode === "die") {
  // Rank 1 leaves without a word; the others must fail their next collective, not hang.
  if (rank === 1) process.exit(9);
  const started = Date.now();
  try {
    const t = tensor([1, 2, 3]);
    group.allreduce(t).wait();
    console.log(JSON.stringify({ rank, error: null, ms: Date.now() - started }));
  } catch (e) {
    console.log(JSON.stringify({ rank, error: (e as Error).message.slice(0, 200), ms: Date.now() - started }));
    process.exit(1);
  }
} else {
  // Two differently-sized tensors in one bucket; values depend on the rank.
  const a = tensor([rank + 1, 10 * (rank + 1), -rank], [3]);
  const b = tensor(
    Array.from({ length: 4 }, (_, i) => i * (rank + 1)),
    [2, 2],
  );
  group.allreduce([a, b], "sum").wait();
  const c = tensor([rank + 1, 2 * (rank + 1)]);
  group.allreduce(c, "avg").wait();
  const m = tensor([rank, -rank]);
  group.allreduce(m, "max").wait();
  const w = tensor([rank, rank, rank, rank], [2, 2]);
  const v = tensor([rank * 7]);
  group.broadcast([w, v], 1 % worldSize).wait();
  const gathered = group.allgather(tensor([rank * 100, rank * 100 + 1])).map((t) => Array.from(t.toArray()));
  if (rank === 0) group.storeSet("run", "folder-x");
  const fromStore = group.storeGet("run");
  group.barrier();
  console.log(
    JSON.stringify({
      rank,
      sum: [Array.from(a.toArray()), Array.from(b.toArray())],
      avg: Array.from(c.toArray()),
      max: Array.from(m.toArray()),
      broadcast: [Array.from(w.toArray()), Array.from(v.toArray())],
      gathered,
      fromStore,
    }),
  );
  group.destroy();
}
