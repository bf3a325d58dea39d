// Exit codes of the backsplit CLI, documented in the README.
export const EXIT = {
  ok: 0,
  /** The job ran and found problems (failed checks, failed training). */
  failure: 1,
  /** The command line was wrong (unknown verb or option, missing argument). */
  usage: 2,
  /** The environment is missing something (engine not built, no CUDA device, missing file). */
  environment: 3,
  /** Interrupted by SIGINT (Ctrl-C); bin/backsplit.mjs re-raises the signal, so a shell sees 128 + 2. */
  interrupted: 130,
  /** Terminated by SIGTERM (128 + 15). */
  terminated: 143,
  /** SIGHUP, or the launcher died (128 + 1). */
  hangup: 129,
} as const;

/** An error whose message is shown without a stack trace, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}
