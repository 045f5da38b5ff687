/**
 * /metrics latency (p50, p99) with the series of 4 hosts x 4 services and of
 * 100 hosts x 10 services, and the CPU the serving process spends on scrapes
 * every 15 s (as a share of one core). The registry runs in its own process so
 * its CPU time is measured apart from the client's.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/dev/sandbox/layout.js';

const SCRAPE_INTERVAL_S = 15;
const log = (line: string) => process.stderr.write(`${line}\n`);

interface SizeResult {
  series: number;
  bytes: number;
  p50_ms: number;
  p99_ms: number;
  cpu_ms_per_scrape: number;
  cpu_overhead_pct: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(hosts: number, services: number): Promise<SizeResult> {
  const child = execa(join(PACKAGE_ROOT, 'node_modules', '.bin', 'tsx'), [join(PACKAGE_ROOT, 'bench', 'lib', 'metrics-server.ts'), String(hosts), String(services)], {
    buffer: false,
    reject: false,
  });
  try {
    const urls = await new Promise<{ metrics: string; cpu: string }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as { metrics: string; cpu: string });
      });
      void child.then(() => reject(new Error('metrics server exited')));
    });
    const cpu = async () => {
      const c = (await (await fetch(urls.cpu)).json()) as { user: number; system: number };
      return (c.user + c.system) / 1000;
    };
    let body = '';
    for (let i = 0; i < 20; i++) body = await (await fetch(urls.metrics)).text(); // warm up
    const latencies: number[] = [];
    const c0 = await cpu();
    const n = 300;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await (await fetch(urls.metrics)).text();
      latencies.push(performance.now() - t0);
    }
    const c1 = await cpu();
    // The /cpu requests themselves cost a little: measure two back to back and take it off.
    const c2 = await cpu();
    const perScrape = (c1 - c0 - (c2 - c1)) / n;
    latencies.sort((a, b) => a - b);
    const series = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
    return {
      series,
      bytes: Buffer.byteLength(body),
      p50_ms: Math.round(percentile(latencies, 50) * 100) / 100,
      p99_ms: Math.round(percentile(latencies, 99) * 100) / 100,
      cpu_ms_per_scrape: Math.round(perScrape * 100) / 100,
      cpu_overhead_pct: Math.round((perScrape / (SCRAPE_INTERVAL_S * 1000)) * 100 * 10000) / 10000,
    };
  } finally {
    child.kill('SIGTERM');
    await child;
  }
}

export async function benchMetrics(): Promise<Record<string, unknown>> {
  const small = await measure(4, 4);
  log(`4 hosts x 4 services:    ${small.series} series, ${small.bytes} bytes: p50 ${small.p50_ms} ms, p99 ${small.p99_ms} ms, ${small.cpu_ms_per_scrape} ms CPU/scrape = ${small.cpu_overhead_pct}% of a core at one scrape per ${SCRAPE_INTERVAL_S}s`);
  const large = await measure(100, 10);
  log(`100 hosts x 10 services: ${large.series} series, ${large.bytes} bytes: p50 ${large.p50_ms} ms, p99 ${large.p99_ms} ms, ${large.cpu_ms_per_scrape} ms CPU/scrape = ${large.cpu_overhead_pct}% of a core at one scrape per ${SCRAPE_INTERVAL_S}s`);
  return {
    bench: 'metrics',
    scrape_interval_s: SCRAPE_INTERVAL_S,
    p50_ms: { '4x4': small.p50_ms, '100x10': large.p50_ms },
    p99_ms: { '4x4': small.p99_ms, '100x10': large.p99_ms },
    cpu_overhead_pct: { '4x4': small.cpu_overhead_pct, '100x10': large.cpu_overhead_pct },
    series: { '4x4': small.series, '100x10': large.series },
    bytes: { '4x4': small.bytes, '100x10': large.bytes },
  };
}
