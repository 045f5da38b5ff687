import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** `npm run histories:record`: writes test/histories/ from the current workflows (not part of `npm test`). */
export default defineConfig({ ...base, test: { ...base.test, include: ['test/record/**/*.record.ts'] } });
