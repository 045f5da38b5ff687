/** Temporal connections built from config: address, namespace, TLS files, API key. */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/tls-config.js';
import { NativeConnection } from '@temporalio/worker';
import { TemporalUnreachableError } from '../common/errors.js';
import type { TemporalConfig } from '../config/config.js';

/** The address used when none is configured: the local dev server's, which is also the `temporal` CLI's default. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

export interface ConnectionSettings {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export function connectionSettings(t: TemporalConfig): ConnectionSettings {
  const settings: ConnectionSettings = { address: t.address ?? DEFAULT_TEMPORAL_ADDRESS };
  if (t.tls !== undefined && t.tls !== false) {
    if (t.tls === true) settings.tls = true;
    else {
      const tls: TLSConfig = {};
      if (t.tls.serverName) tls.serverNameOverride = t.tls.serverName;
      if (t.tls.serverRootCACertFile) tls.serverRootCACertificate = readFileSync(t.tls.serverRootCACertFile);
      if (t.tls.clientCertFile && t.tls.clientKeyFile) {
        tls.clientCertPair = { crt: readFileSync(t.tls.clientCertFile), key: readFileSync(t.tls.clientKeyFile) };
      }
      settings.tls = tls;
    }
  }
  if (t.apiKey) {
    settings.apiKey = t.apiKey.reveal();
    // An API key travels only over TLS.
    settings.tls ??= true;
  }
  return settings;
}

/** How long a client waits for the server before giving up. */
export const CLIENT_CONNECT_TIMEOUT = '10 seconds';

/** Connects with `connect`; a failure says which server and namespace, and where that is set. */
async function reach<T>(t: TemporalConfig, settings: ConnectionSettings, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    throw new TemporalUnreachableError(settings.address, t.namespace, err);
  }
}

/** A client for starting and querying workflows and schedules. Close it with `client.connection.close()`. */
export async function connectClient(t: TemporalConfig): Promise<Client> {
  const settings = connectionSettings(t);
  const connection = await reach(t, settings, () => Connection.connect({ ...settings, connectTimeout: CLIENT_CONNECT_TIMEOUT }));
  return new Client({ connection, namespace: t.namespace });
}

/** A worker connection. */
export async function connectWorker(t: TemporalConfig): Promise<NativeConnection> {
  const settings = connectionSettings(t);
  return reach(t, settings, () => NativeConnection.connect(settings));
}
