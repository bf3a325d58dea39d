// Small HTTP helpers for the web server: JSON replies, bounded request bodies, errors as JSON.
import type { IncomingMessage, ServerResponse } from "node:http";

/** An error with the HTTP status to answer it with; its message goes to the client as {error}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = error instanceof HttpError ? error.status : 500;
  sendJson(res, status, { error: (error as Error).message ?? String(error) });
}

/** Reads a JSON body of at most `limit` bytes; larger bodies are refused with 413 before being read whole. */
export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `request body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON (${(error as Error).message})`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new HttpError(400, "request body must be a JSON object");
  return value as Record<string, unknown>;
}

export function stringField(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== "string" || v.length === 0) throw new HttpError(400, `"${name}" must be a non-empty string`);
  return v;
}
