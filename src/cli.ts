#!/usr/bin/env node
/**
 * `mcp-runbooks`: the operator's command. The commands live in `src/cli/`, one
 * module per group; exit codes are mapped in `src/cli/exit-codes.ts` and listed
 * in the README ("Exit codes").
 */
import { main } from './cli/program.js';

await main(process.argv);
