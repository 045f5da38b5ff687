/**
 * Validation of 5-field cron expressions as Temporal Schedules read them. Pure:
 * config loading uses it to refuse a bad expression before anything is applied.
 *
 * Temporal's reading differs from Vixie cron in one way that matters: when both
 * day-of-month and day-of-week are restricted, Temporal requires both to match
 * (cron fires when either does), so `0 4 1 * 0` would mean "the 1st, if it is a
 * Sunday". Such expressions are refused rather than silently reinterpreted.
 */

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

/** The five fields in order; day-of-week accepts 7 for Sunday, as Temporal does. */
const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/** Shorthands Temporal accepts in place of the five fields. */
export const CRON_SHORTHANDS = ['@yearly', '@monthly', '@weekly', '@daily', '@hourly'] as const;

/** What the config expects, for error messages. */
export const CRON_EXPECTED =
  'a 5-field cron expression "minute hour day-of-month month day-of-week" (e.g. "0 2 * * *"), or @daily, @weekly, @monthly, @yearly, @hourly';

/** Days in each month, February counted as 29 so that the 29th of February is possible. */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** The values one field matches, or the reason it is invalid. */
function fieldValues(text: string, field: CronField): Set<number> | string {
  const values = new Set<number>();
  const value = (token: string): number | undefined => {
    if (/^\d{1,2}$/.test(token)) return Number(token);
    const i = field.names?.indexOf(token.toUpperCase()) ?? -1;
    return i >= 0 ? i + field.min : undefined;
  };
  for (const item of text.split(',')) {
    const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d{1,2}))?$/.exec(item);
    if (!m) return `${field.name} "${item}" is not a value, range (a-b), step (*/n, a-b/n) or list (a,b)`;
    const [, range, stepText] = m as unknown as [string, string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) return `${field.name} step "/${stepText ?? ''}" must be at least 1`;
    let start: number | undefined;
    let end: number | undefined;
    if (range === '*') {
      start = field.min;
      end = field.max;
    } else {
      const [a, b] = range.split('-') as [string, string | undefined];
      start = value(a);
      end = b === undefined ? (stepText === undefined ? start : field.max) : value(b);
      const bad = start === undefined ? a : end === undefined ? b : undefined;
      if (bad !== undefined) {
        return `${field.name} "${bad}" is not a number${field.names ? ` or one of ${field.names.join(', ')}` : ''}`;
      }
    }
    if (start === undefined || end === undefined) return `${field.name} "${item}" is not valid`;
    for (const v of [start, end]) {
      if (v < field.min || v > field.max) return `${field.name} ${v} is outside ${field.min}-${field.max}`;
    }
    if (start > end) return `${field.name} range ${start}-${end} runs backwards`;
    for (let v = start; v <= end; v += step) values.add(v);
  }
  return values;
}

/**
 * Why `expression` is not a cron expression Temporal will run as written, or
 * undefined when it is fine.
 */
export function cronProblem(expression: string): string | undefined {
  const text = expression.trim();
  if (text.startsWith('@')) {
    return (CRON_SHORTHANDS as readonly string[]).includes(text) ? undefined : `unknown shorthand "${text}"`;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) return `${parts.length} field${parts.length === 1 ? '' : 's'} instead of 5`;
  const sets: Array<Set<number>> = [];
  for (const [i, field] of FIELDS.entries()) {
    const values = fieldValues(parts[i]!, field);
    if (typeof values === 'string') return values;
    sets.push(values);
  }
  const [, , dom, month, dow] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const everyWeekday = [0, 1, 2, 3, 4, 5, 6].every((d) => dow.has(d) || (d === 0 && dow.has(7)));
  if (dom.size < 31 && !everyWeekday) {
    return 'day-of-month and day-of-week are both restricted: Temporal requires both to match (cron needs either); restrict only one';
  }
  const longestMonth = Math.max(...[...month].map((m) => MONTH_DAYS[m - 1]!));
  if (Math.min(...dom) > longestMonth) return `day-of-month ${Math.min(...dom)} never occurs in the months given`;
  return undefined;
}
