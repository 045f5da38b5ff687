/** Holds a TCP port on 127.0.0.1 so a sandbox service cannot bind it. */
import { createServer, type Server, type Socket } from 'node:net';

/** Listens on `port`, or rejects naming the port (EADDRINUSE would otherwise leave the caller waiting forever). */
export async function blockPort(port: number): Promise<{ release(): Promise<void> }> {
  // Anything that connects meanwhile (a probe of the memory service, a health check) is held open
  // and never answered; release() ends those connections too, or close() would wait for them.
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot hold port ${port} for the test: ${err.message}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    release: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
