import { describe, expect, it } from 'vitest';
import { cronProblem } from '../../src/schedules/cron.js';

describe('cronProblem', () => {
  it.each([
    '0 2 * * *',
    '0 3 * * 0',
    '0 4 1 * *',
    '0 3 * * 7',
    '*/15 * * * *',
    '5/15 * * * *',
    '0 9-17/2 * * mon-fri',
    '0 0 1 jan,JUL *',
    '1-5/2,30 * * * *',
    '0 0 29 2 *',
    '@daily',
    '@weekly',
    '@monthly',
  ])('accepts %j', (expr) => {
    expect(cronProblem(expr)).toBeUndefined();
  });

  it.each([
    ['61 * * * *', 'minute 61 is outside 0-59'],
    ['0 24 * * *', 'hour 24 is outside 0-23'],
    ['0 0 0 * *', 'day-of-month 0 is outside 1-31'],
    ['0 0 * 13 *', 'month 13 is outside 1-12'],
    ['0 0 * * 8', 'day-of-week 8 is outside 0-7'],
    ['0 0 * * FUN', 'day-of-week "FUN" is not a number or one of SUN'],
    ['0 2 * *', '4 fields instead of 5'],
    ['0 0 2 * * *', '6 fields instead of 5'],
    ['*/0 * * * *', 'step "/0" must be at least 1'],
    ['30-10 * * * *', 'minute range 30-10 runs backwards'],
    ['0 0 ? * *', 'day-of-month "?" is not a value'],
    ['0 4 1 * 0', 'day-of-month and day-of-week are both restricted'],
    ['0 2 31 2 *', 'day-of-month 31 never occurs'],
    ['@reboot', 'unknown shorthand "@reboot"'],
    ['', '1 field instead of 5'],
  ])('refuses %j: %s', (expr, problem) => {
    expect(cronProblem(expr)).toContain(problem);
  });
});
