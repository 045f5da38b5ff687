/** A sandbox host with a real worker (role all) on the shared test dev server, and a client. */
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { createTestSandbox, type TestSandbox, type TestSandboxOptions } from './sandbox.js';
import { testClient, testNativeConnection, workflowBundle } from './temporal.js';

export interface TestHost {
  sbx: TestSandbox;
  client: Client;
  connection: NativeConnection;
  worker: RunningWorker;
  /** Stops the worker, closes the connections, removes the sandbox. */
  close(): Promise<void>;
}

export async function startTestHost(opts: TestSandboxOptions & { serveMetrics?: boolean; prepare?: (sbx: TestSandbox) => Promise<void> } = {}): Promise<TestHost> {
  const sbx = await createTestSandbox(opts);
  let client: Client | undefined;
  let connection: NativeConnection | undefined;
  let worker: RunningWorker | undefined;
  // Also used when setup fails half way, so nothing it started outlives the test file.
  const close = async () => {
    await worker?.shutdown();
    await connection?.close();
    await client?.connection.close();
    await sbx.cleanup();
  };
  try {
    await opts.prepare?.(sbx);
    client = await testClient();
    connection = await testNativeConnection();
    worker = await startWorker({ config: sbx.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: opts.serveMetrics ?? false });
    return { sbx, client, connection, worker, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
