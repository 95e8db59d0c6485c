import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/**
 * The inspector CPU profiler as RPC methods of a bench child (`profileStart`, `profileStop({file})`),
 * built into every child by `serveParent`, so the baseline can be profiled exactly as the relay is.
 */
export function profilerMethods(): Record<string, (args: unknown) => Promise<unknown>> {
  let session: Session | null = null;
  const post = (s: Session, method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => s.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    profileStart: async () => {
      const s = new Session();
      s.connect();
      session = s;
      await post(s, 'Profiler.enable');
      // 200 µs: fine enough for per-reply costs of a few µs, coarse enough not to double the CPU.
      await post(s, 'Profiler.setSamplingInterval', { interval: 200 });
      await post(s, 'Profiler.start');
      return null;
    },
    profileStop: async (args) => {
      const file = (args as { file: string }).file;
      const s = session;
      if (!s) throw new Error('profiler not started');
      const result = (await post(s, 'Profiler.stop')) as { profile: unknown };
      s.disconnect();
      session = null;
      writeFileSync(file, JSON.stringify(result.profile));
      return { file };
    },
  };
}
