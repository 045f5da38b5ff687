/** The one way mcp-runbooks talks to PostgreSQL: check out, run parameterised SQL, release in `finally`. */
import pg from 'pg';
import type { PostgresConfig } from '../config/config.js';

export interface PgClientOptions {
  /** Connect to another database on the same server (e.g. `postgres` to create one). */
  database?: string;
  /** @default 5000 */
  connectTimeoutMs?: number;
}

export async function withPgClient<T>(
  config: PostgresConfig,
  fn: (client: pg.Client) => Promise<T>,
  opts: PgClientOptions = {},
): Promise<T> {
  const client = new pg.Client({
    host: config.host,
    port: config.port,
    user: config.user,
    database: opts.database ?? config.database,
    ...(config.password ? { password: config.password.reveal() } : {}),
    statement_timeout: Math.round(config.statementTimeoutSeconds * 1000),
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    application_name: 'mcp-runbooks',
  });
  // An idle client's socket error must not crash the process; the next query reports it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Quotes an identifier (database or table name) for the few statements that cannot take parameters. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
