/**
 * `npm run build`'s last step: writes `dist/workflows-bundle.js` (see
 * prebuilt-bundle.ts), so workers start without bundling. Run from `dist/`.
 */
import { fileURLToPath } from 'node:url';
import { writeWorkflowBundle } from './prebuilt-bundle.js';

const dist = fileURLToPath(new URL('.', import.meta.url));
const bundled = await writeWorkflowBundle(dist, fileURLToPath(new URL('./workflows/index.js', import.meta.url)));
if (bundled) process.stderr.write(`workflow bundle written: ${fileURLToPath(new URL('./workflows-bundle.js', import.meta.url))}\n`);
