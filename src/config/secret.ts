import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Environment variables that hold secrets: the well-known ones, and every one a
 * config's secret was read from (`{env: NAME}`). {@link childEnv} leaves them out.
 */
const secretEnvNames = new Set(['TEMPORAL_API_KEY', 'PGPASSWORD']);

/**
 * The environment for a program the worker runs (service commands, apt, logrotate,
 * pigz, ...): the worker's own, without secrets, plus `extra` (which may carry a
 * secret on purpose, e.g. PGPASSWORD for pg_dump). Pass it with `extendEnv: false`.
 */
export function childEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !secretEnvNames.has(name)) out[name] = value;
  return { ...out, ...extra };
}

/**
 * A secret value (database password, API key). It prints, logs and serialises as
 * `[redacted]`; only {@link Secret.reveal} returns the value, at the point of use.
 */
export class Secret {
  readonly #value: string;
  /** Where it came from, e.g. `env:PGPASSWORD` or `file:/etc/mcp/pg.pass`; safe to show. */
  readonly origin: string;

  constructor(value: string, origin: string) {
    this.#value = value;
    this.origin = origin;
    if (origin.startsWith('env:')) secretEnvNames.add(origin.slice('env:'.length));
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${this.origin})`;
  }
}
