import { inspect } from 'node:util';

const REDACTED = '[redacted]';

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
