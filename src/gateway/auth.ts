/** Bearer tokens of the gateway: constant-time matching and what each token may do. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { GatewayToken } from '../config/config.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * The token an `Authorization: Bearer <token>` header carries, or undefined.
 * Every configured token is compared (sha256 digests, `timingSafeEqual`), so
 * the time taken says nothing about which one, or how much of one, matched.
 */
export function authenticate(header: string | undefined, tokens: readonly GatewayToken[]): GatewayToken | undefined {
  const m = /^Bearer ([^\s]+)$/.exec(header ?? '');
  if (!m) return undefined;
  const given = digest(m[1]!);
  let found: GatewayToken | undefined;
  for (const t of tokens) {
    if (timingSafeEqual(given, digest(t.token.reveal())) && !found) found = t;
  }
  return found;
}

/** Whether the token may start or read runs of `runbook` (an `mcp-runbooks run` name). */
export function mayUse(token: GatewayToken, runbook: string): boolean {
  return token.runbooks.includes('*') || token.runbooks.includes(runbook);
}
