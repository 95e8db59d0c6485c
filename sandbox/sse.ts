import type { Response } from 'express';

/** Server-sent events: one "change" ping per burst of changes; the page then re-fetches its state. */
export class ChangeBroadcaster {
  private readonly clients = new Set<Response>();
  private pending: NodeJS.Timeout | null = null;

  attach(res: Response): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  /** Coalesces changes within 30 ms so a burst costs one re-render. */
  changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      for (const client of this.clients) client.write('event: change\ndata: {}\n\n');
    }, 30);
  }

  close(): void {
    if (this.pending) clearTimeout(this.pending);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}
