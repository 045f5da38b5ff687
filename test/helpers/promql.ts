/** Metric names a PromQL expression reads (a small tokenizer: enough for our rules and dashboards). */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  const cleaned = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\w+/g, ' '); // Grafana variables
  const names = new Set<string>();
  const re = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(cleaned))) {
    const token = m[0];
    const rest = cleaned.slice(m.index + token.length);
    if (/^\s*\(/.test(rest)) continue; // a function or aggregation
    if (KEYWORDS.has(token.toLowerCase())) continue;
    if (/^\d/.test(token)) continue;
    names.add(token);
  }
  return [...names];
}

/** `x_bucket`, `x_count`, `x_sum` of a histogram `x` name the histogram. */
export function baseName(name: string, histograms: ReadonlySet<string>): string {
  const m = /^(.*)_(bucket|count|sum)$/.exec(name);
  return m?.[1] && histograms.has(m[1]) ? m[1] : name;
}
