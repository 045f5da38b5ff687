/** The gateway role: a `gateway` section with tokens, and its TLS files readable. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import { fail, ok, warn, type CheckResult } from './check.js';

export async function checkGateway(config: Config): Promise<CheckResult[]> {
  const g = config.gateway;
  if (!g) return [fail('gateway.config', `${config.source} has no gateway section: \`mcp-runbooks gateway\` has nothing to serve`, 'add a gateway section (deploy/examples/gateway.yaml)')];
  const results: CheckResult[] = [
    g.tokens.length > 0
      ? ok('gateway.config', `listens on ${g.host}:${g.port}${g.tls ? ' (HTTPS)' : ''}; tokens: ${g.tokens.map((t) => t.name).join(', ')}`)
      : warn('gateway.config', `listens on ${g.host}:${g.port} with no tokens: every request but /healthz, /metrics and the OpenAPI document is refused`, 'add gateway.tokens (a secret reference each)'),
  ];
  if (g.tls) {
    const unreadable: string[] = [];
    for (const f of [g.tls.certFile, g.tls.keyFile]) if (!(await access(f, constants.R_OK).then(() => true, () => false))) unreadable.push(f);
    results.push(
      unreadable.length > 0
        ? fail('gateway.tls', `cannot read ${unreadable.join(' and ')}`, 'check gateway.tls.certFile and keyFile, and that this user can read them (the key: mode 0640, group of the gateway\'s user)')
        : ok('gateway.tls', `${g.tls.certFile} and its key are readable`),
    );
  }
  return results;
}
