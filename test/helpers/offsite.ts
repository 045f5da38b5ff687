/**
 * Restic repositories for one test on the run's real backends (the S3 and REST
 * servers the global setup started, or a local path): the target's config with
 * every secret in a file reference, the secrets themselves (for tests that grep
 * for them), and plain restic on the same repository for checking what is there.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { inject } from 'vitest';
import type { ResticTarget } from '../../src/config/config.js';
import { Secret } from '../../src/config/secret.js';

export interface TestRepository {
  /** The target entry for `backup.targets`. */
  target: Record<string, unknown>;
  /** Every secret of this repository (password, backend keys, URL credentials). */
  secrets: string[];
  /** Plain restic on the repository, as an operator would run it by hand; 60 s at most. */
  restic(args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
}

async function secretFile(dir: string, name: string, value: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return path;
}

function resticOn(repository: string, password: string, env: Record<string, string>, home: string): TestRepository['restic'] {
  return async (args) => {
    const r = await execa('restic', args, {
      extendEnv: false,
      env: { PATH: process.env.PATH ?? '', HOME: home, RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: password, ...env },
      reject: false,
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
}

interface RepositoryOptions {
  /** The target's name. */
  name: string;
  /** Folder for this repository's secret files (and the local repository). */
  dir: string;
  /** Run `restic init` first. @default true */
  init?: boolean;
  /** More target fields (checkReadDataSubset, retention). */
  extra?: Record<string, unknown>;
}

async function finish(repo: TestRepository, init: boolean | undefined): Promise<TestRepository> {
  if (init !== false) {
    const r = await repo.restic(['init']);
    if (r.exitCode !== 0) throw new Error(`restic init for target ${String(repo.target.name)} failed: ${r.stderr}`);
  }
  return repo;
}

/** A bucket of its own on the run's S3 server; the keys reach restic through the target's `env`. */
export async function s3Repository(opts: RepositoryOptions & { endpoint?: string; accessKey?: string; secretKey?: string }): Promise<TestRepository> {
  await mkdir(opts.dir, { recursive: true });
  const endpoint = opts.endpoint ?? inject('s3Endpoint');
  const accessKey = opts.accessKey ?? inject('s3AccessKey');
  const secretKey = opts.secretKey ?? inject('s3SecretKey');
  const password = randomBytes(24).toString('hex');
  const repository = `s3:${endpoint}/${opts.name}-${randomBytes(4).toString('hex')}`;
  const target = {
    name: opts.name,
    type: 'restic',
    repository,
    password: { file: await secretFile(opts.dir, 'password', password) },
    env: {
      AWS_ACCESS_KEY_ID: { file: await secretFile(opts.dir, 'access-key', accessKey) },
      AWS_SECRET_ACCESS_KEY: { file: await secretFile(opts.dir, 'secret-key', secretKey) },
    },
    ...opts.extra,
  };
  const keys = { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey };
  return finish({ target, secrets: [password, secretKey], restic: resticOn(repository, password, keys, opts.dir) }, opts.init);
}

/** A repository of its own on the run's REST server; the URL carries the basic-auth user and password, so it is a secret reference. */
export async function restRepository(opts: RepositoryOptions): Promise<TestRepository> {
  await mkdir(opts.dir, { recursive: true });
  const endpoint = new URL(inject('restEndpoint'));
  endpoint.username = inject('restUser');
  endpoint.password = inject('restPass');
  endpoint.pathname = `/${opts.name}-${randomBytes(4).toString('hex')}/`;
  const repository = `rest:${endpoint.toString()}`;
  const password = randomBytes(24).toString('hex');
  const target = {
    name: opts.name,
    type: 'restic',
    repository: { file: await secretFile(opts.dir, 'repository', repository) },
    password: { file: await secretFile(opts.dir, 'password', password) },
    ...opts.extra,
  };
  return finish({ target, secrets: [password, inject('restPass')], restic: resticOn(repository, password, {}, opts.dir) }, opts.init);
}

/** A repository in a local folder. */
export async function localRepository(opts: RepositoryOptions): Promise<TestRepository> {
  await mkdir(opts.dir, { recursive: true });
  const repository = join(opts.dir, 'repo');
  const password = randomBytes(24).toString('hex');
  const target = { name: opts.name, type: 'restic', repository, password: { file: await secretFile(opts.dir, 'password', password) }, ...opts.extra };
  return finish({ target, secrets: [password], restic: resticOn(repository, password, {}, opts.dir) }, opts.init);
}

/** A restic target as the activities read it from a loaded config (no file behind it), named `offsite`. */
export function resolvedResticTarget(repository: string, password: string, layout: ResticTarget['layout'], name = 'offsite'): ResticTarget {
  return {
    name,
    type: 'restic',
    location: repository,
    repository: new Secret(repository, 'config'),
    password: new Secret(password, 'file:/test'),
    env: {},
    options: {},
    checkReadDataSubset: '100%',
    layout,
    retention: { days: 30 },
    repositoryId: 'test',
  };
}
