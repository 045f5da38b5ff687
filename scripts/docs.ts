/** Rewrites the README's generated blocks (runbook input tables) from the schemas. */
import { readFile, writeFile } from 'node:fs/promises';
import { withInputTables } from '../src/common/input-docs.js';

const path = new URL('../README.md', import.meta.url);
const before = await readFile(path, 'utf8');
const after = withInputTables(before);
if (after !== before) await writeFile(path, after);
console.log(after === before ? 'README.md is up to date' : 'README.md: runbook input tables rewritten');
