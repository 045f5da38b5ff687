import { Writable } from 'node:stream';
import type { Parser } from 'tar';

/**
 * A node-tar Parser (a Minipass stream) as a Node Writable, so a pipeline waits until the parser has seen the end.
 * `onChunk` sees each decompressed chunk first; if it throws, the write fails with that error (a size limit stops the pass).
 */
export function parserSink(parser: Parser, onChunk?: (chunk: Buffer) => void): Writable {
  let first = true;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      // node-tar gunzips a stream that starts like gzip by itself, past every size limit counted here: refuse it.
      if (first && chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
        cb(new Error('the tar stream is itself gzip-compressed; nested compression is refused (it would decompress past the size limits)'));
        return;
      }
      first = false;
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
