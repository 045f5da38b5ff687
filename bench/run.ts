/**
 * `npm run bench -- <name> [options]`: runs one benchmark; its last stdout line is one JSON object.
 * A result with `ok: false` failed the bench's own check: the JSON line is still printed, and the exit code is 1.
 */
import { benchBackup } from './backup.js';
import { benchFleet } from './fleet.js';
import { benchGateway } from './gateway.js';
import { benchMetrics } from './metrics.js';
import { benchOffsite } from './offsite.js';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  backup: benchBackup,
  fleet: benchFleet,
  gateway: benchGateway,
  metrics: benchMetrics,
  offsite: benchOffsite,
};

const name = process.argv[2];
const bench = name ? BENCHES[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>\n`);
  process.exit(2);
}
const result = await bench();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.ok === false ? 1 : 0);
