#!/usr/bin/env node
/**
 * The sandbox's MCP services, one program: `node service.js <service> --root <root>`.
 * Each reads its config from `etc/kilocode/mcp/<service>.json`, logs timestamped
 * lines to stdout (the controller sends them to `var/log/kilocode/mcp/<service>.log`),
 * writes `run/<service>.pid` once ready and removes it on SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { sandboxLayout } from './layout.js';
import { serviceConfigPath, type SandboxServiceFiles } from './provision.js';

const [service, flag, root] = process.argv.slice(2);
if (!service || flag !== '--root' || !root) {
  process.stderr.write('usage: service.js <service> --root <sandbox root>\n');
  process.exit(2);
}
const layout = sandboxLayout(root);
const pidFile = join(layout.runDir, `${service}.pid`);
const startedAt = Date.now();

function log(level: 'INFO' | 'WARN' | 'ERROR', message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${level} ${service}: ${message}\n`);
}

function ready(): void {
  const tmp = `${pidFile}.tmp`;
  writeFileSync(tmp, `${process.pid}\n`);
  // rename is atomic: the controller never reads a half-written pid.
  void rename(tmp, pidFile).then(() => log('INFO', `ready (pid ${process.pid})`));
}

const stoppers: Array<() => Promise<void> | void> = [];
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('INFO', `${signal} received, stopping`);
  for (const stop of stoppers.reverse()) await stop();
  rmSync(pidFile, { force: true });
  log('INFO', 'stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

async function readConfig<K extends keyof SandboxServiceFiles>(name: K): Promise<SandboxServiceFiles[K]> {
  return JSON.parse(await readFile(serviceConfigPath(layout, name), 'utf8')) as SandboxServiceFiles[K];
}

async function memoryService(): Promise<void> {
  const cfg = await readConfig('mcp-memory');
  type Store = { memories: Record<string, { value: string; storedAt: string }> };
  let store: Store = JSON.parse(await readFile(cfg.dataFile, 'utf8').catch(() => '{"memories":{}}')) as Store;
  let operations = 0;
  let errors = 0;
  const save = async () => {
    const tmp = `${cfg.dataFile}.tmp`;
    await writeFile(tmp, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o640 });
    await rename(tmp, cfg.dataFile);
  };
  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const body = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      try {
        if (url.pathname === '/get_stats' && req.method === 'GET') {
          return send(res, 200, {
            size: Object.keys(store.memories).length,
            operations,
            errors,
            uptime: Math.round((Date.now() - startedAt) / 1000),
          });
        }
        if (url.pathname === '/consolidate' && (req.method === 'GET' || req.method === 'POST')) {
          operations += 1;
          const before = Object.keys(store.memories).length;
          const seen = new Set<string>();
          const kept: Store['memories'] = {};
          for (const [key, m] of Object.entries(store.memories).sort(([, a], [, b]) => b.storedAt.localeCompare(a.storedAt))) {
            if (!m.value.trim() || seen.has(m.value)) continue;
            seen.add(m.value);
            kept[key] = m;
          }
          store = { memories: kept };
          await save();
          const snapshot = join(cfg.snapshotDir, `consolidated-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
          await mkdir(cfg.snapshotDir, { recursive: true });
          await writeFile(snapshot, `${JSON.stringify(store)}\n`, { mode: 0o640 });
          const snapshots = (await readdir(cfg.snapshotDir)).filter((f) => f.startsWith('consolidated-')).sort();
          for (const old of snapshots.slice(0, -5)) await rm(join(cfg.snapshotDir, old), { force: true });
          const after = Object.keys(kept).length;
          log('INFO', `consolidated: ${before} -> ${after} memories`);
          return send(res, 200, { before, after, removed: before - after });
        }
        if (url.pathname === '/memories' && req.method === 'POST') {
          const b = (await body(req)) as { key?: unknown; value?: unknown };
          if (typeof b.key !== 'string' || typeof b.value !== 'string') {
            errors += 1;
            return send(res, 400, { error: 'expected {key: string, value: string}' });
          }
          operations += 1;
          store.memories[b.key] = { value: b.value, storedAt: new Date().toISOString() };
          await save();
          return send(res, 201, { key: b.key });
        }
        const m = /^\/memories\/(.+)$/.exec(url.pathname);
        if (m?.[1] && req.method === 'GET') {
          operations += 1;
          const found = store.memories[decodeURIComponent(m[1])];
          if (!found) {
            errors += 1;
            return send(res, 404, { error: 'not found' });
          }
          return send(res, 200, found);
        }
        if (url.pathname === '/health') return send(res, 200, { status: 'ok' });
        errors += 1;
        return send(res, 404, { error: `no route ${req.method ?? ''} ${url.pathname}` });
      } catch (err) {
        errors += 1;
        log('ERROR', `request ${url.pathname} failed: ${(err as Error).message}`);
        return send(res, 500, { error: 'internal error' });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, '127.0.0.1', () => resolve());
  });
  log('INFO', `listening on http://127.0.0.1:${cfg.port}, ${Object.keys(store.memories).length} memories in ${cfg.dataFile}`);
  stoppers.push(() => new Promise<void>((r) => server.close(() => r())));
  stoppers.push(() => server.closeAllConnections());
}

async function folderStats(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

async function filesystemService(): Promise<void> {
  const cfg = await readConfig('mcp-filesystem');
  const scan = async () => {
    try {
      const s = await folderStats(cfg.dataDir);
      log('INFO', `indexed ${s.files} files (${s.bytes} bytes) in ${cfg.dataDir}`);
    } catch (err) {
      log('ERROR', `scan of ${cfg.dataDir} failed: ${(err as Error).message}`);
    }
  };
  await scan();
  const timer = setInterval(() => void scan(), cfg.scanIntervalSeconds * 1000);
  stoppers.push(() => clearInterval(timer));
}

async function complianceService(): Promise<void> {
  const cfg = await readConfig('mcp-compliance');
  const check = async () => {
    try {
      const policies = JSON.parse(await readFile(join(cfg.dataDir, 'policies.json'), 'utf8')) as { policies: unknown[] };
      log('INFO', `compliance check passed: ${policies.policies.length} policies`);
    } catch (err) {
      log('ERROR', `compliance check failed: ${(err as Error).message}`);
    }
  };
  await check();
  const timer = setInterval(() => void check(), cfg.checkIntervalSeconds * 1000);
  stoppers.push(() => clearInterval(timer));
}

async function postgresService(): Promise<void> {
  const cfg = await readConfig('mcp-postgres');
  const check = async () => {
    const client = new pg.Client({ host: cfg.host, port: cfg.port, database: cfg.database, user: cfg.user, connectionTimeoutMillis: 3000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const r = await client.query<{ n: string }>('SELECT count(*) AS n FROM mcp_events');
      log('INFO', `database ${cfg.database} reachable, ${r.rows[0]?.n ?? '?'} events`);
    } catch (err) {
      log('ERROR', `database ${cfg.host}:${cfg.port}/${cfg.database} check failed: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  void check();
  const timer = setInterval(() => void check(), cfg.checkIntervalSeconds * 1000);
  stoppers.push(() => clearInterval(timer));
}

const programs: Record<string, () => Promise<void>> = {
  'mcp-memory': memoryService,
  'mcp-filesystem': filesystemService,
  'mcp-compliance': complianceService,
  'mcp-postgres': postgresService,
};
const program = programs[service];
if (!program) {
  log('ERROR', `unknown sandbox service ${service}`);
  process.exit(2);
}
try {
  await program();
  ready();
} catch (err) {
  log('ERROR', `failed to start: ${(err as Error).message}`);
  process.exit(1);
}
