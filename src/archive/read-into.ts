import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** The path names a symbolic link or something else than a regular file; nothing was read through it. */
export class NotRegularFileError extends Error {
  override readonly name = 'NotRegularFileError';
}

/**
 * Opens a file for reading, refusing a symbolic link (`O_NOFOLLOW`, so no link
 * can be swapped in between a check and the open) and anything but a regular
 * file. `what` names it in the refusal: "an archive", "a manifest".
 * @throws NotRegularFileError `<path> is a symbolic link; refusing to read <what> through a link`
 */
export async function openRegularFile(path: string, what: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new NotRegularFileError(`${path} is a symbolic link; refusing to read ${what} through a link`, { cause: err });
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new NotRegularFileError(`${path} is not a regular file; refusing to read ${what} from it`);
  }
  return { fh, size: st.size };
}

/**
 * An open file, from its first byte, piped into a transform; a read error fails
 * the transform instead of leaving it waiting. The handle stays open (the caller
 * owns it), so a second pass reads the same inode, never whatever the path names now.
 */
export function readInto<T extends NodeJS.WritableStream & { destroy(err?: Error): unknown }>(fh: FileHandle, into: T): T {
  const file = fh.createReadStream({ start: 0, autoClose: false });
  file.once('error', (err) => into.destroy(err));
  return file.pipe(into);
}
