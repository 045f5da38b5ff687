/** docker-compose.temporal.yml is never run here (no Docker engine); its shape is checked. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PACKAGE_ROOT } from '../src/dev/sandbox/layout.js';

interface Service {
  image: string;
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  entrypoint?: string[];
}

const compose = parse(await readFile(join(PACKAGE_ROOT, 'docker-compose.temporal.yml'), 'utf8')) as { services: Record<string, Service> };
const services = compose.services;

describe('docker-compose.temporal.yml', () => {
  it('has the server, PostgreSQL persistence, the Web UI and admin tools', () => {
    expect(Object.keys(services).sort()).toEqual(['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-namespace', 'temporal-schema', 'temporal-ui']);
    expect(services.temporal?.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    expect(services['temporal-admin-tools']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services.postgresql?.volumes?.[0]).toMatch(/:\/var\/lib\/postgresql\/data$/);
  });

  it('pins every image to an exact version', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toMatch(/:\d+\.\d+(\.\d+)?$/);
    }
    const adminTags = new Set(Object.values(services).filter((s) => s.image.startsWith('temporalio/admin-tools')).map((s) => s.image));
    const serverVersion = services.temporal!.image.split(':')[1];
    expect([...adminTags]).toEqual([`temporalio/admin-tools:${serverVersion}`]);
  });

  it('publishes gRPC 7233 and the UI on loopback only', () => {
    expect(services.temporal?.ports).toEqual(['127.0.0.1:7233:7233']);
    expect(services['temporal-ui']?.ports).toEqual(['127.0.0.1:8080:8080']);
    for (const [name, s] of Object.entries(services)) for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:/);
  });

  it('starts in order: database healthy, schema done, server healthy', () => {
    expect(services['temporal-schema']?.depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(services.temporal?.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(services['temporal-ui']?.depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
  });

  it('the setup scripts it mounts exist', async () => {
    for (const s of ['temporal-schema', 'temporal-namespace']) {
      const script = services[s]!.entrypoint![1]!.replace('/mcp-runbooks/', '');
      await expect(readFile(join(PACKAGE_ROOT, 'deploy', 'temporal', script), 'utf8')).resolves.toContain('#!/bin/sh');
    }
  });
});
