import { createReadStream } from 'node:fs';

/** A file piped into a transform; a read error fails the transform instead of leaving it waiting. */
export function readInto<T extends NodeJS.WritableStream & { destroy(err?: Error): unknown }>(path: string, into: T): T {
  const file = createReadStream(path);
  file.once('error', (err) => into.destroy(err));
  return file.pipe(into);
}
