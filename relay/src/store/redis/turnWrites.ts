import type { Writable } from 'node:stream';
import type { Redis } from 'ioredis';

/**
 * Sends the commands a client is given within one event-loop turn in one socket write: the first
 * command of a turn corks the client's socket and a setImmediate uncorks it, so Node hands every
 * command written in between to the kernel in one writev. On loopback a send costs a syscall and
 * the receiver's TCP work, far more than the few hundred bytes of a command; under load the
 * relay's requests of one turn share one.
 *
 * Nothing else changes: the commands keep their order on the one connection, each still has its
 * own reply, timeout and error. A command issued while the client is not ready goes to ioredis'
 * offline queue as before (nothing is held). Not for a Cluster, whose commands spread over a
 * socket per node. (ioredis' own enableAutoPipelining does this with a pipeline per turn, which
 * costs more CPU than it saves here, and on a Cluster groups our scripts by their key count.)
 */
export class TurnWrites {
  private held: Writable | null = null;

  constructor(private readonly client: Redis) {}

  /** Call just before issuing a command. */
  hold(): void {
    if (this.held !== null || this.client.status !== 'ready') return;
    const stream = this.client.stream;
    if (!stream.writable) return;
    stream.cork();
    this.held = stream;
    setImmediate(this.release);
  }

  private readonly release = (): void => {
    const stream = this.held;
    this.held = null;
    stream?.uncork();
  };
}
