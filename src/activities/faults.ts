/**
 * Fault injection for the kill tests: at a configured point an activity writes
 * `<markerDir>/<point>.reached` and waits (until cancelled or its worker is
 * killed). A point already reached does not pause again, so the retried
 * activity on the restarted worker goes on.
 */
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.js';

export async function faultPoint(config: Pick<Config, 'faultInjection'>, point: string, signal?: AbortSignal): Promise<void> {
  const f = config.faultInjection;
  if (!f?.pauseAt.includes(point)) return;
  const marker = join(f.markerDir, `${point}.reached`);
  try {
    await access(marker);
    return;
  } catch {
    // first time here
  }
  await mkdir(f.markerDir, { recursive: true });
  await writeFile(marker, `${process.pid}\n`);
  await new Promise<never>((_resolve, reject) => {
    signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}
