// Class values when structures drawn in a session (name → value, numbered as they were accepted) are
// saved into a background source that may already hold classes from earlier saves: a name keeps the
// value it has in the source, a new name takes the next free value. Pure: nothing is changed in place.

/** The next value after every value in use (1 for none): how a new class is numbered. */
export function nextClassValue(classes: Readonly<Record<string, number>>): number {
  return Math.max(0, ...Object.values(classes)) + 1;
}

/** `classes` with `name` added at the next free value, unless it is there already. */
export function withClass(classes: Readonly<Record<string, number>>, name: string): Record<string, number> {
  return Object.hasOwn(classes, name) ? { ...classes } : { ...classes, [name]: nextClassValue(classes) };
}

export interface Renumbering {
  /** The source's classes after the save: its earlier ones, then the session's new names. */
  labels: Record<string, number>;
  /** Session value → source value, for every class of the session. */
  values: Record<number, number>;
}

/** Maps a session's classes onto a source's classes (see the file comment); new names in the session's order. */
export function renumberClasses(
  session: Readonly<Record<string, number>>,
  source: Readonly<Record<string, number>> = {},
): Renumbering {
  let labels: Record<string, number> = { ...source };
  const values: Record<number, number> = {};
  for (const [name, v] of Object.entries(session)) {
    labels = withClass(labels, name);
    values[v] = labels[name];
  }
  return { labels, values };
}
