/**
 * A deterministic mixed data set: many small compressible files (JSON, logs,
 * text), medium and large incompressible binaries, and semi-compressible
 * blobs, spread over the backup sources like a real host's data.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** xorshift32: the same bytes every run. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS = 'memory service operation backup restore verify archive consolidate policy compliance audit filesystem index query latency error warning request response session token cache'.split(' ');

function text(rand: () => number, bytes: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const line = `${new Date(1_700_000_000_000 + (rand() % 1_000_000_000)).toISOString()} ${WORDS[rand() % WORDS.length]} ${WORDS[rand() % WORDS.length]} id=${rand() % 100_000} took=${rand() % 900}ms ${WORDS[rand() % WORDS.length]}\n`;
    parts.push(line);
    n += line.length;
  }
  return parts.join('');
}

function random(rand: () => number, bytes: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) b.writeUInt32LE(rand(), i);
  return b;
}

/** Half random, half repeated: compresses to about half. */
function semi(rand: () => number, bytes: number): Buffer {
  const r = random(rand, bytes);
  for (let i = 0; i < bytes; i += 8192) r.fill(i % 255, i, Math.min(bytes, i + 4096));
  return r;
}

export interface DatasetPart {
  dir: string;
  smallTextFiles: number;
  smallTextBytes: number;
  randomFiles: number;
  randomBytes: number;
  semiFiles: number;
  semiBytes: number;
}

export interface DatasetStats {
  files: number;
  bytes: number;
}

export async function writeDataset(parts: DatasetPart[], seed = 42): Promise<DatasetStats> {
  const rand = prng(seed);
  const stats: DatasetStats = { files: 0, bytes: 0 };
  for (const p of parts) {
    for (let i = 0; i < p.smallTextFiles; i++) {
      const dir = join(p.dir, 'bench', `d${i % 50}`);
      await mkdir(dir, { recursive: true });
      const body = i % 3 === 0 ? JSON.stringify({ id: i, words: text(rand, p.smallTextBytes).split('\n').slice(0, 40) }) : text(rand, p.smallTextBytes);
      await writeFile(join(dir, `f${i}.${i % 3 === 0 ? 'json' : 'log'}`), body);
      stats.files += 1;
      stats.bytes += Buffer.byteLength(body);
    }
    await mkdir(join(p.dir, 'bench', 'bin'), { recursive: true });
    for (let i = 0; i < p.randomFiles; i++) {
      await writeFile(join(p.dir, 'bench', 'bin', `r${i}.bin`), random(rand, p.randomBytes));
      stats.files += 1;
      stats.bytes += p.randomBytes;
    }
    for (let i = 0; i < p.semiFiles; i++) {
      await writeFile(join(p.dir, 'bench', 'bin', `s${i}.dat`), semi(rand, p.semiBytes));
      stats.files += 1;
      stats.bytes += p.semiBytes;
    }
  }
  return stats;
}
