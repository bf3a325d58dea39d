// The server's side of interactive sessions: one worker thread per open session (see
// session-worker.ts), requests answered in order, the oldest session closed beyond a limit.
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { HttpError } from "./http.js";
import type { SessionReply, SessionRequest, SessionWorkerInput } from "./session-worker.js";

export interface SessionInfo {
  id: string;
  caseId: string;
  channel: number;
  /** Class name → value in this case's accepted map. */
  classes: Record<string, number>;
}

class Session {
  readonly info: SessionInfo;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (v: SessionReply) => void; reject: (e: Error) => void }>();
  #next = 0;
  ready: Promise<SessionReply["shape"]>;
  lastUsed = Date.now();

  constructor(caseId: string, channel: number, input: SessionWorkerInput) {
    this.info = { id: randomBytes(8).toString("hex"), caseId, channel, classes: {} };
    this.#worker = new Worker(new URL("./session-worker.js", import.meta.url), { workerData: input });
    this.ready = new Promise((resolve, reject) => {
      this.#worker.on(
        "message",
        (m: { kind: string; id?: number; value?: SessionReply; error?: string; shape?: SessionReply["shape"] }) => {
          if (m.kind === "ready") resolve(m.shape!);
          else if (m.kind === "failed") reject(new HttpError(422, m.error ?? "session failed to start"));
          else if (m.kind === "reply") {
            const p = this.#pending.get(m.id!);
            this.#pending.delete(m.id!);
            if (m.error) p?.reject(new HttpError(422, m.error));
            else p?.resolve(m.value!);
          }
        },
      );
      this.#worker.on("error", (e) => {
        reject(e);
        this.#failAll(e);
      });
      this.#worker.on("exit", () => this.#failAll(new HttpError(410, "the session has ended")));
    });
    this.ready.catch(() => undefined);
  }

  #failAll(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  async request(request: SessionRequest): Promise<SessionReply> {
    await this.ready;
    this.lastUsed = Date.now();
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, request });
    });
  }

  close(): Promise<number> {
    return this.#worker.terminate();
  }
}

export class SessionPool {
  readonly #sessions = new Map<string, Session>();

  constructor(readonly o: { device: string; threads?: number; maxSessions: number }) {}

  async open(caseId: string, channel: number, image: string): Promise<{ info: SessionInfo; shape: number[] }> {
    while (this.#sessions.size >= this.o.maxSessions) {
      const oldest = [...this.#sessions.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0];
      await this.close(oldest.info.id);
    }
    const session = new Session(caseId, channel, { image, device: this.o.device, threads: this.o.threads });
    this.#sessions.set(session.info.id, session);
    try {
      const shape = await session.ready;
      return { info: session.info, shape };
    } catch (error) {
      await this.close(session.info.id);
      throw error;
    }
  }

  get(id: string): Session {
    const s = this.#sessions.get(id);
    if (!s) throw new HttpError(404, `no open session '${id}' (it may have been closed for a newer one)`);
    return s;
  }

  async close(id: string): Promise<void> {
    const s = this.#sessions.get(id);
    if (!s) return;
    this.#sessions.delete(id);
    await s.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((id) => this.close(id)));
  }
}
