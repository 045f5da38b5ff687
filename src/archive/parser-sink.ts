import { Writable } from 'node:stream';
import type { Parser } from 'tar';

/**
 * A node-tar Parser (a Minipass stream) as a Node Writable, so a pipeline waits until the parser has seen the end.
 * `onChunk` sees each decompressed chunk first; if it throws, the write fails with that error (a size limit stops the pass).
 */
export function parserSink(parser: Parser, onChunk?: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        onChunk?.(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      if (parser.write(chunk)) cb();
      else parser.once('drain', () => cb());
    },
    final(cb) {
      parser.once('end', () => cb());
      parser.end();
    },
  });
}
