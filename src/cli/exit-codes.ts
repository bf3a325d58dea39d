// Exit codes of the backsplit CLI, documented in the README.
export const EXIT = {
  ok: 0,
  /** The job ran and found problems (failed checks, failed training). */
  failure: 1,
  /** The command line was wrong (unknown verb or option, missing argument). */
  usage: 2,
  /** The environment is missing something (engine not built, no CUDA device, missing file). */
  environment: 3,
  /** Interrupted by a signal. */
  interrupted: 130,
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
