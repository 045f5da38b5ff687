/** Durations in schedule config: a whole number and a unit, e.g. `30s`, `15m`, `1h`, `1d`. */

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** `30s`, `15m`, `1h`, `1d`: what the config accepts. */
export const DURATION_PATTERN = /^(\d{1,7})(s|m|h|d)$/;

/** Milliseconds of a duration such as `15m`; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as Unit];
}

/** The shortest exact form of a duration in milliseconds: `86400000` gives `1d`, `90000` gives `90s`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    if (ms > 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
