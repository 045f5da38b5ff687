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

/**
 * Policies that end the running run for a newer one. Refused for runbooks that
 * change a host: TERMINATE_OTHER runs none of the old run's undos, and
 * CANCEL_OTHER rolls back a backup or maintenance half done, every time a run is late.
 */
export const HOST_KILLING_OVERLAPS: readonly OverlapPolicy[] = ['CANCEL_OTHER', 'TERMINATE_OTHER'];
