/**
 * When the services an activity stopped or started really went down or came
 * up, kept on the host so a retry of that same activity (after its worker was
 * killed) reports those times, not its own. Without them a retried
 * `startServices` on a service that came up long before reports the retry's
 * time, and the downtime grows by the heartbeat timeout and the restart
 * (22 s reported for a 2 s stop).
 *
 * One small JSON file per activity execution, named by a digest of workflow
 * id, run id, activity id and kind: a retry keeps all four, another call
 * (even of the same activity in the same run) does not.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { activityInfo } from '@temporalio/activity';
import { writeFileDurably } from '../archive/manifest.js';

/** Records older than this are removed when a new one is written: no retry comes that late. */
const KEEP_MS = 7 * 86_400_000;

export type TransitionKind = 'stop' | 'start';

export interface TransitionRecord {
  /** The time recorded for `service` by an earlier attempt of this activity, if any. */
  get(service: string): string | undefined;
  /** Records `at` for `service` durably before the activity goes on. */
  set(service: string, at: string): Promise<void>;
}

interface RecordFile {
  workflowId: string;
  runId: string;
  activityId: string;
  kind: TransitionKind;
  services: Record<string, string>;
}

function currentActivity(): { workflowId: string; runId: string; activityId: string } | undefined {
  try {
    const info = activityInfo();
    if (!info.workflowExecution) return undefined;
    return { workflowId: info.workflowExecution.workflowId, runId: info.workflowExecution.runId, activityId: info.activityId };
  } catch {
    return undefined;
  }
}

/**
 * The record of the running activity's transitions of `kind` in `dir`. Outside
 * an activity, or without a `dir`, it remembers nothing beyond this call.
 */
export async function transitionRecord(dir: string | undefined, kind: TransitionKind): Promise<TransitionRecord> {
  const who = currentActivity();
  const memory: Record<string, string> = {};
  if (!dir || !who) return { get: (s) => memory[s], set: async (s, at) => void (memory[s] = at) };
  const file = join(dir, `${createHash('sha256').update([who.workflowId, who.runId, who.activityId, kind].join('\0')).digest('hex').slice(0, 32)}.json`);
  const saved = await readFile(file, 'utf8')
    .then((t) => JSON.parse(t) as RecordFile)
    .catch(() => undefined);
  const services: Record<string, string> = saved && saved.activityId === who.activityId ? { ...saved.services } : {};
  let pruned = false;
  return {
    get: (s) => services[s],
    async set(s, at) {
      services[s] = at;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (!pruned) {
        pruned = true;
        await pruneOld(dir);
      }
      const content: RecordFile = { ...who, kind, services };
      await writeFileDurably(file, `${JSON.stringify(content)}\n`, 0o600);
    },
  };
}

async function pruneOld(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{32}\.json$/.test(name)) continue;
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st && now - st.mtimeMs > KEEP_MS) await rm(join(dir, name), { force: true });
  }
}
