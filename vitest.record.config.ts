import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/** `npm run histories:record`: writes test/histories/ from the current workflows (not part of `npm test`). */
export default mergeConfig(base, defineConfig({ test: { include: ['test/record/**/*.record.ts'] } }));
