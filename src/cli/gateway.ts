/** `mcp-runbooks gateway`: the authenticated HTTP API, until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { load, out, stopSignal, withClient } from './shared.js';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('serve the HTTP gateway (config `gateway`): start runbooks, read runs, approve, with bearer tokens')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = await load(cmd);
      const { buildGateway } = await import('../gateway/server.js');
      // In place before it listens: a SIGTERM just after the `gateway:` line stops it gracefully.
      const stop = stopSignal((signal) => out(`${signal}: stopping the gateway ...`));
      await withClient(config, async (client) => {
        const { app } = buildGateway({ config, client });
        const g = config.gateway!;
        const address = await app.listen({ host: g.host, port: g.port });
        out(`gateway: ${address} (${g.tokens.length} token${g.tokens.length === 1 ? '' : 's'}: ${g.tokens.map((t) => t.name).join(', ') || 'none'}); OpenAPI at ${address}/v1/openapi.json`);
        out(`temporal: ${config.temporal.address ?? '127.0.0.1:7233'} namespace ${config.temporal.namespace}`);
        if (!stop.aborted) await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
        await app.close();
        out('gateway stopped');
      });
    });
}
