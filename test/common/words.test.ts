import { describe, expect, it } from 'vitest';
import { age, count } from '../../src/common/words.js';

describe('words', () => {
  it.each([
    [0, 'archive', undefined, '0 archives'],
    [1, 'archive', undefined, '1 archive'],
    [2, 'entry', 'entries', '2 entries'],
    [1, 'entry', 'entries', '1 entry'],
  ])('count(%i, %s)', (n, singular, plural, expected) => {
    expect(count(n, singular, plural)).toBe(expected);
  });

  it.each([
    [0.25, '15 min'],
    [3.46, '3.5 h'],
    [47.9, '47.9 h'],
    [50.4, '2.1 days'],
  ])('age(%f h) is %s', (hours, expected) => {
    expect(age(hours)).toBe(expected);
  });
});
