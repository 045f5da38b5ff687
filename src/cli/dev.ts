/** `mcp-runbooks dev`: embedded Temporal, sandbox fleet and worker on this machine. */
import type { Command } from 'commander';
import { installRuntime, load, out, stopSignal } from './shared.js';

/** How often `dev` checks that the process that started it (a shell, `npm start`) is still there. */
const PARENT_CHECK_MS = 1000;

/**
 * Aborts on SIGINT/SIGTERM, and when the parent process dies: `npm start` runs
 * `dev` under `sh -c`, and a signal to npm can end the shell without reaching `dev`,
 * which would keep the dev server and the sandbox running with no one to stop them.
 */
function devStopSignal(): AbortSignal {
  const controller = new AbortController();
  const signal = stopSignal((s) => out(`\n${s}: stopping ...`));
  signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent || controller.signal.aborted) return;
    clearInterval(timer);
    out(`\nparent process ${parent} is gone: stopping ...`);
    controller.abort('parent gone');
  }, PARENT_CHECK_MS);
  timer.unref();
  return controller.signal;
}

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('embedded Temporal dev server + sandbox fleet + worker; prints a health check, then runs until Ctrl-C')
    .option('--once', 'exit after the first health check report')
    .option('--json', 'print the report as JSON')
    .option('--clean', 'stop what a crashed (killed) dev run left running, dev server and sandbox services, then exit')
    .action(async (opts: { once?: boolean; json?: boolean; clean?: boolean }, cmd: Command) => {
      const config = await load(cmd);
      if (opts.clean) {
        const { cleanDev } = await import('../dev/leftovers.js');
        const r = await cleanDev(config);
        out(r.devServer ? 'stopped the Temporal dev server a crashed dev run left running' : 'no Temporal dev server left running');
        out(r.services.length ? `stopped sandbox services a crashed dev run left running: ${r.services.join(', ')}` : 'no sandbox services left running by a crashed dev run');
        return;
      }
      const sdkMetricsUrl = await installRuntime(cmd, 'WARN', config.metrics.sdkPort);
      const { runDev } = await import('../dev/dev.js');
      await runDev({ config, env: process.env, once: Boolean(opts.once), json: Boolean(opts.json), stop: devStopSignal(), out, ...(sdkMetricsUrl ? { sdkMetricsUrl } : {}) });
    });
}
