/** IANA time zones for schedules. */

/**
 * The canonical spelling of an IANA time zone (`europe/berlin` gives
 * `Europe/Berlin`), or undefined when Node does not know it. The Temporal
 * server resolves zones case-sensitively, so the canonical name is what is sent.
 */
export function canonicalTimeZone(name: string): string | undefined {
  // Newer Node versions accept offsets such as +01:00, which the server cannot load.
  if (!/^[A-Za-z]/.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
