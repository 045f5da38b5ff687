/**
 * The built-in sandbox's off-host target: a local restic repository in the dev
 * data folder (`.data/restic-repo`), its password generated beside it
 * (`.data/restic-password`, mode 0600) and the repository created by
 * provisioning, so `npm start` shows both targets. Only when restic is on PATH.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, ResticTarget } from '../../config/config.js';
import { errorMessage } from '../../common/errors.js';
import { exists } from '../../system/fs.js';
import { runRestic } from '../../targets/restic.js';

export interface DevOffsite {
  repository: string;
  passwordFile: string;
}

/** The repository and password file in `dataDir`; the password is generated once (32 random bytes) and then kept. */
export function devOffsite(dataDir: string): DevOffsite {
  const passwordFile = join(dataDir, 'restic-password');
  mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  try {
    writeFileSync(passwordFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Already there: keep it, or every snapshot in the repository would be lost to us.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { repository: join(dataDir, 'restic-repo'), passwordFile };
}

export interface RepositoryProvision {
  target: string;
  location: string;
  state: 'created' | 'exists' | 'unavailable';
  detail: string;
}

/** `restic init` for the sandbox's `initRepository` target when its local repository has no `config` file yet. */
export async function provisionRepository(config: Config): Promise<RepositoryProvision | undefined> {
  const name = config.sandbox?.initRepository;
  if (!name) return undefined;
  const target = config.backup.targets.find((t): t is ResticTarget => t.type === 'restic' && t.name === name);
  if (!target) return undefined;
  const location = target.repository.reveal();
  const base = { target: name, location: target.location };
  if (await exists(join(location, 'config'))) return { ...base, state: 'exists', detail: `restic repository ${target.location}` };
  try {
    await runRestic(target, ['init'], { timeoutMs: 60_000 });
    return { ...base, state: 'created', detail: `restic repository ${target.location} (restic init)` };
  } catch (err) {
    return { ...base, state: 'unavailable', detail: `restic init ${target.location} failed: ${errorMessage(err)}` };
  }
}
