/** `npm run bench -- <name>`: runs one benchmark; its last stdout line is one JSON object. */
import { benchBackup } from './backup.js';
import { benchMetrics } from './metrics.js';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  backup: benchBackup,
  metrics: benchMetrics,
};

const name = process.argv[2];
const bench = name ? BENCHES[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>\n`);
  process.exit(2);
}
const result = await bench();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
