import { Writable } from 'node:stream';
import type { Parser } from 'tar';

/** A node-tar Parser (a Minipass stream) as a Node Writable, so a pipeline waits until the parser has seen the end. */
export function parserSink(parser: Parser): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (parser.write(chunk)) cb();
      else parser.once('drain', () => cb());
    },
    final(cb) {
      parser.once('end', () => cb());
      parser.end();
    },
  });
}
