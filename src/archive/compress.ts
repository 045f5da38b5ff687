/**
 * gzip compression for archives: `pigz` (parallel) when installed, else Node's
 * zlib. Both write a standard .tar.gz that `tar -tzf` reads.
 */
import { availableParallelism } from 'node:os';
import { Transform, type Duplex, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { createGunzip, createGzip } from 'node:zlib';
import { execa } from 'execa';
import { childEnv } from '../config/secret.js';

export const COMPRESSORS = ['auto', 'pigz', 'gzip'] as const;
export type CompressorChoice = (typeof COMPRESSORS)[number];

export interface Compressor {
  /** `pigz -p 4 -6` or `zlib -6`, for the manifest. */
  name: string;
  /** Pipes `input` through the compressor into `output`; resolves when all is written. */
  run(input: Readable, output: Writable, signal: AbortSignal): Promise<void>;
}

let pigzAvailable: Promise<boolean> | undefined;
function hasPigz(): Promise<boolean> {
  pigzAvailable ??= execa('pigz', ['--version'], { env: childEnv(), extendEnv: false, reject: false, timeout: 5000 }).then((r) => r.exitCode === 0);
  return pigzAvailable;
}

export async function pickCompressor(choice: CompressorChoice, level: number): Promise<Compressor> {
  if (level === 0 && storedGzipAvailable()) return storedGzip();
  const usePigz = choice === 'pigz' || (choice === 'auto' && (await hasPigz()));
  if (usePigz) {
    const threads = Math.max(1, availableParallelism());
    return pigz(`pigz -p ${threads} -${level}`, ['-c', `-${level}`, '-p', String(threads)], (code, stderr) => `pigz failed (exit ${code}): ${stderr}`);
  }
  return {
    name: `zlib -${level}`,
    async run(input, output, signal) {
      const gzip = createGzip({ level });
      await pump(input, gzip, gzip, output, signal, async () => undefined, () => gzip.destroy());
    },
  };
}

/**
 * gunzip for reading archives back: `pigz -dc` (decompression in its own
 * process, beside our parsing) when installed, else Node's zlib.
 */
export async function pickDecompressor(choice: CompressorChoice = 'auto'): Promise<Compressor> {
  const usePigz = choice === 'pigz' || (choice === 'auto' && (await hasPigz()));
  if (usePigz) {
    return pigz('pigz -dc', ['-dc'], (code, stderr) => `gzip data does not decompress: ${stderr.replace(/^pigz: /, '') || `pigz exit ${code}`}`);
  }
  return {
    name: 'zlib',
    async run(input, output, signal) {
      const gunzip = createGunzip();
      await pump(input, gunzip, gunzip, output, signal, async () => undefined, () => gunzip.destroy());
    },
  };
}

/** The manifest's `compressor` of a tar stored uncompressed (a restic target: its chunker deduplicates plain tar). */
export const UNCOMPRESSED = 'none';

/** How to read back an archive written by `compressor` (from its manifest): gunzip, or as it is for {@link UNCOMPRESSED}. */
export async function pickReader(compressor: string | undefined): Promise<Compressor> {
  if (compressor !== UNCOMPRESSED) return pickDecompressor();
  return {
    name: UNCOMPRESSED,
    async run(input, output, signal) {
      await pipeline(input, output, { signal });
    },
  };
}

/** Node's zlib.crc32 (Node 20.15 and 22.2 on); without it level 0 goes through pigz or zlib like any level. */
function storedGzipAvailable(): boolean {
  return typeof (zlib as { crc32?: unknown }).crc32 === 'function';
}

/** Most bytes one stored deflate block holds (its length is 16 bits). */
const STORED_BLOCK = 65_535;

/**
 * Level 0 (the emergency archive's default): a gzip file whose deflate stream
 * is stored blocks, framed here as the bytes pass (RFC 1951 section 3.2.4, RFC
 * 1952), the CRC-32 from zlib. What `gzip -0` or `pigz -0` writes, without a
 * process and two pipes to carry every byte through: a plain copy, which a
 * 500 MB recovery waits on.
 */
function storedGzip(): Compressor {
  const crc32 = (zlib as unknown as { crc32(data: Uint8Array, value?: number): number }).crc32;
  return {
    name: 'gzip -0 (stored)',
    async run(input, output, signal) {
      let crc = 0;
      let size = 0;
      const framer = new Transform({
        construct(cb) {
          // ID1 ID2, CM deflate, no flags, no mtime, XFL 0, OS unix.
          this.push(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
          cb();
        },
        transform(chunk: Buffer, _enc, cb) {
          crc = crc32(chunk, crc);
          size = (size + chunk.length) >>> 0;
          for (let at = 0; at < chunk.length; at += STORED_BLOCK) {
            const block = chunk.subarray(at, at + STORED_BLOCK);
            const header = Buffer.alloc(5);
            header.writeUInt16LE(block.length, 1);
            header.writeUInt16LE(~block.length & 0xffff, 3);
            this.push(header);
            this.push(block);
          }
          cb();
        },
        flush(cb) {
          // An empty final block, then CRC-32 and the size modulo 2^32.
          const end = Buffer.alloc(13);
          end.writeUInt8(1, 0);
          end.writeUInt16LE(0xffff, 3);
          end.writeUInt32LE(crc >>> 0, 5);
          end.writeUInt32LE(size, 9);
          cb(null, end);
        },
      });
      await pipeline(input, framer, output, { signal });
    },
  };
}

/** pigz as a pipe stage; a non-zero exit fails the pipe with `failure(exit code, stderr)`. */
function pigz(name: string, args: string[], failure: (code: string, stderr: string) => string): Compressor {
  return {
    name,
    async run(input, output, signal) {
      const child = execa('pigz', args, { env: childEnv(), extendEnv: false, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, cancelSignal: signal, reject: false });
      await pump(
        input,
        child.stdin,
        child.stdout,
        output,
        signal,
        async () => {
          const r = await child;
          if (r.exitCode !== 0 && !signal.aborted) throw new Error(failure(String(r.exitCode), String(r.stderr).trim()));
        },
        () => child.kill('SIGKILL'),
      );
    },
  };
}

/** input -> (stdin ... stdout) -> output, failing fast if any side fails. */
async function pump(
  input: Readable,
  stdin: Writable,
  stdout: Readable | Duplex,
  output: Writable,
  signal: AbortSignal,
  finish: () => Promise<void>,
  kill: () => void,
): Promise<void> {
  const ac = new AbortController();
  const abort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', abort, { once: true });
  ac.signal.addEventListener('abort', kill, { once: true });
  const failFast = (err: unknown) => {
    ac.abort(err);
    throw err;
  };
  try {
    await Promise.all([
      pipeline(input, stdin, { signal: ac.signal }).catch(failFast),
      pipeline(stdout, output, { signal: ac.signal }).catch(failFast),
      finish().catch(failFast),
    ]);
  } catch (err) {
    // The first failure is the one worth reporting (e.g. ENOSPC), not the aborts it caused.
    throw ac.signal.reason instanceof Error ? ac.signal.reason : err;
  } finally {
    signal.removeEventListener('abort', abort);
  }
}
