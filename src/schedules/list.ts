/** The schedules of a namespace and their marks. */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { MARK_MEMO_KEY, readMark, type ScheduleMark } from './spec.js';

export interface ListedSchedule {
  scheduleId: string;
  mark?: ScheduleMark;
}

/**
 * Every schedule in the namespace, with its mark if it has one. Reads only our
 * memo key, so a schedule whose memo another program encoded (e.g. encrypted)
 * cannot break listing. The listing is eventually consistent: a schedule
 * created a moment ago may be missing.
 */
export async function listSchedules(client: Client, namespace: string): Promise<ListedSchedule[]> {
  const listed: ListedSchedule[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listSchedules({ namespace, maximumPageSize: 1000, ...(nextPageToken ? { nextPageToken } : {}) });
    for (const s of page.schedules ?? []) {
      if (!s.scheduleId) continue;
      const payload = s.memo?.fields?.[MARK_MEMO_KEY];
      let mark: ScheduleMark | undefined;
      if (payload) {
        try {
          mark = readMark({ [MARK_MEMO_KEY]: defaultPayloadConverter.fromPayload(payload) });
        } catch {
          // Not JSON: not a mark of ours.
        }
      }
      listed.push({ scheduleId: s.scheduleId, ...(mark ? { mark } : {}) });
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return listed;
}
