import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/** Header name/value pairs, in the order they are sent. */
export type HeaderPairs = ReadonlyArray<readonly [string, string]>;

/**
 * helmet's response headers, worked out once by running helmet against a recorder. With our
 * options they never depend on the request (no CSP nonces), so Express routes and the Engage
 * endpoint send exactly helmet's set without paying a dozen `setHeader` calls per request.
 */
export function helmetHeaders(): HeaderPairs {
  const recorded: [string, string][] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      const index = recorded.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
      const pair: [string, string] = [name, Array.isArray(value) ? value.join(', ') : String(value)];
      if (index >= 0) recorded[index] = pair;
      else recorded.push(pair);
    },
    removeHeader(name: string) {
      const index = recorded.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
      if (index >= 0) recorded.splice(index, 1);
    },
  };
  let finished = false;
  helmet()({ headers: {} } as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error('helmet failed');
    finished = true;
  });
  // helmet's middlewares are synchronous; if a future version is not, fail loudly at start-up.
  if (!finished || recorded.length === 0) throw new Error('helmet did not set its headers synchronously');
  return recorded;
}
