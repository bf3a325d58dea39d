// Training logs for the page: a whole log.jsonl as JSON, or its new lines as they are appended.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";

/** The parsed lines of a JSON-lines log (a line being written is left out). */
export function readLog(file: string): unknown[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a line being written
      }
    });
}

/**
 * Server-sent events of a growing JSON-lines log: every complete line as `data:`, a `reset` event
 * when the file was rewritten (a new run in the same folder), a keep-alive every half second.
 * `clients` holds the open streams (ended when the server closes).
 */
export function streamLog(req: IncomingMessage, res: ServerResponse, file: string, clients: Set<ServerResponse>): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
  clients.add(res);
  let offset = 0;
  let partial = "";
  const push = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) {
      // The log was rewritten (a new run in the same folder): the page starts its curve again.
      offset = 0;
      partial = "";
      res.write("event: reset\ndata: {}\n\n");
    }
    if (size === offset) return;
    // Only the bytes appended since the last look.
    const chunk = Buffer.alloc(size - offset);
    const fd = openSync(file, "r");
    try {
      readSync(fd, chunk, 0, chunk.length, offset);
    } finally {
      closeSync(fd);
    }
    const text = partial + chunk.toString("utf8");
    offset = size;
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) res.write(`data: ${line}\n\n`);
  };
  push();
  const timer = setInterval(() => {
    try {
      push();
      res.write(": keep-alive\n\n");
    } catch {
      // the next tick retries; a removed file just stops the stream's updates
    }
  }, 500);
  req.on("close", () => {
    clearInterval(timer);
    clients.delete(res);
  });
}
