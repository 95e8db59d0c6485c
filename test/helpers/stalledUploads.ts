import net from 'node:net';

/**
 * Stalled uploads for the hostile-client suite. Run as its own process (stalledUploadsMain.ts) so
 * that pumping 2,000 sockets does not slow the test process, which measures the latency of the
 * legitimate calls made meanwhile.
 */

export interface RawOutcome {
  status: number | null;
  closedAfterMs: number | null;
}

/**
 * Opens a connection, sends `head` and then up to `bodyBytes` of body as fast as the relay reads
 * it, and stalls (never finishes). Resolves when the relay answers and closes the connection, or
 * `giveUpMs` after the connection was established (times count from then: under load the kernel
 * may hold a few of 2,000 simultaneous connects in its accept queue for a while).
 */
export function stalledRequest(port: number, head: string, bodyBytes: number, giveUpMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    let connectedAt = 0;
    const socket = net.connect(port, '127.0.0.1');
    let status: number | null = null;
    let done = false;
    let giveUp: NodeJS.Timeout | null = null;
    const settle = (closed: boolean) => {
      if (done) return;
      done = true;
      if (giveUp) clearTimeout(giveUp);
      clearTimeout(neverConnected);
      resolve({ status, closedAfterMs: closed && connectedAt > 0 ? Date.now() - connectedAt : null });
      socket.destroy();
    };
    // A connect that never completes is the test machine's problem, not a relay that failed to cut it.
    const neverConnected = setTimeout(() => settle(false), 30_000);
    socket.on('data', (chunk: Buffer) => {
      const line = /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'));
      if (line && status === null) status = Number(line[1]);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => settle(true));
    socket.on('connect', () => {
      connectedAt = Date.now();
      giveUp = setTimeout(() => settle(false), giveUpMs);
      socket.write(head);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < bodyBytes && !socket.destroyed) {
          const piece = chunk.subarray(0, Math.min(chunk.length, bodyBytes - sent));
          sent += piece.length;
          if (!socket.write(piece)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
}
