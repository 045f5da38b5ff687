/** Holds a TCP port on 127.0.0.1 so a sandbox service cannot bind it. */
import { createServer, type Server } from 'node:net';

/** Listens on `port`, or rejects naming the port (EADDRINUSE would otherwise leave the caller waiting forever). */
export async function blockPort(port: number): Promise<{ release(): Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot hold port ${port} for the test: ${err.message}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
