/** Small wording helpers for finding messages. Pure: workflows use them too. */

/** `1 archive`, `3 archives`; `plural` when the word does not just take an s. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** An age for a person: `45 min`, `3.5 h`, `2.1 days`. */
export function age(hours: number): string {
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${Math.round(hours * 10) / 10} h`;
  return `${Math.round((hours / 24) * 10) / 10} days`;
}
