/** Overlap policies: what a schedule does when a run is due while the previous one still runs. */

/** Temporal's names, as `temporal schedule describe` shows them. */
export const OVERLAP_POLICIES = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** `skip`, `buffer-one`, `BufferOne` and `BUFFER_ONE` all name the same policy. */
export function parseOverlapPolicy(text: string): OverlapPolicy | undefined {
  const normal = text
    .trim()
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toUpperCase();
  return (OVERLAP_POLICIES as readonly string[]).includes(normal) ? (normal as OverlapPolicy) : undefined;
}
