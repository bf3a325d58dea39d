// Reading what a CLI verb printed with --json.

/** The JSON lines of a `--json` run's stdout whose `event` is the given one, in order. */
// biome-ignore lint/suspicious/noExplicitAny: events are checked field by field by the tests
export function jsonEvents(stdout: string, event: string): any[] {
  return stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((e) => e.event === event);
}
