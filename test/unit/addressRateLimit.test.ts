import { AddressRateLimit, type AddressAdmission } from '../../relay/src/http/addressRateLimit';

/** The per-address fixed-window limit shared by every public route (http/addressRateLimit.ts). */

const T0 = 1_700_000_000_000;
function fakeClock(start = T0): { now: () => number; set(t: number): void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

const header = (a: AddressAdmission, name: string): string | undefined => a.headers.find(([n]) => n === name)?.[1];
const remaining = (a: AddressAdmission): number => Number(/remaining=(\d+)/.exec(header(a, 'RateLimit') ?? '')?.[1]);
/** Private state, read only to check what the public behaviour cannot show. */
const countsOf = (limiter: AddressRateLimit): Map<string, number> => limiter['counts'];

describe('AddressRateLimit', () => {
  it('allows `limit` requests per address per window, each address on its own', () => {
    const limiter = new AddressRateLimit(3, 60_000, fakeClock().now);
    expect([1, 2, 3, 4, 5].map(() => limiter.take('198.51.100.7').allowed)).toEqual([true, true, true, false, false]);
    expect(limiter.take('203.0.113.9').allowed).toBe(true);
    expect(limiter.take('2001:db8::1').allowed).toBe(true);
    expect(limiter.take('198.51.100.7').allowed).toBe(false);
  });

  it('does not count refused requests', () => {
    const limiter = new AddressRateLimit(2, 60_000, fakeClock().now);
    limiter.take('a');
    limiter.take('a');
    for (let i = 0; i < 10; i++) expect(limiter.take('a').allowed).toBe(false);
    expect(countsOf(limiter).get('a')).toBe(2);
  });

  it('starts a new window windowMs after the current one began, and the map with it', () => {
    const clock = fakeClock();
    const limiter = new AddressRateLimit(2, 60_000, clock.now);
    clock.set(T0 + 10_000);
    limiter.take('a');
    limiter.take('a');
    limiter.take('b');
    // The window began at construction (T0), not at the first request.
    clock.set(T0 + 59_999);
    expect(limiter.take('a').allowed).toBe(false);
    clock.set(T0 + 60_000);
    const fresh = limiter.take('a');
    expect([fresh.allowed, remaining(fresh)]).toEqual([true, 1]);
    // The previous window's counts are gone, every address with them (memory stays bounded).
    expect([...countsOf(limiter)]).toEqual([['a', 1]]);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);

    // After a quiet spell the next window starts at the first request, not on the old grid.
    clock.set(T0 + 200_000);
    const late = limiter.take('a');
    expect([late.allowed, header(late, 'RateLimit')]).toEqual([true, 'limit=2, remaining=1, reset=60']);
    clock.set(T0 + 200_000 + 59_999);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('answers with draft-7 RateLimit headers, and Retry-After only when refusing', () => {
    const clock = fakeClock();
    const limiter = new AddressRateLimit(3, 60_000, clock.now);
    const first = limiter.take('a');
    expect(first).toEqual({
      allowed: true,
      headers: [
        ['RateLimit-Policy', '3;w=60'],
        ['RateLimit', 'limit=3, remaining=2, reset=60'],
      ],
    });
    clock.set(T0 + 1_500);
    expect(limiter.take('a').headers).toEqual([
      ['RateLimit-Policy', '3;w=60'],
      ['RateLimit', 'limit=3, remaining=1, reset=59'], // 58.5 s left, rounded up
    ]);
    clock.set(T0 + 30_000);
    expect(limiter.take('a').headers).toEqual([
      ['RateLimit-Policy', '3;w=60'],
      ['RateLimit', 'limit=3, remaining=0, reset=30'],
    ]);
    clock.set(T0 + 45_200);
    expect(limiter.take('a')).toEqual({
      allowed: false,
      headers: [
        ['RateLimit-Policy', '3;w=60'],
        ['RateLimit', 'limit=3, remaining=0, reset=15'],
        ['Retry-After', '15'],
      ],
    });
    // Never "reset=0": the last millisecond of the window still says 1 second.
    clock.set(T0 + 59_999);
    const last = limiter.take('a');
    expect([header(last, 'RateLimit'), header(last, 'Retry-After')]).toEqual(['limit=3, remaining=0, reset=1', '1']);
    // Another address in the same window: its own remaining, no Retry-After.
    const other = limiter.take('b');
    expect([other.allowed, header(other, 'RateLimit'), header(other, 'Retry-After')]).toEqual([
      true,
      'limit=3, remaining=2, reset=1',
      undefined,
    ]);
  });

  it('states the window in whole seconds in the policy', () => {
    expect(header(new AddressRateLimit(10, 1_500, fakeClock().now).take('a'), 'RateLimit-Policy')).toBe('10;w=2');
    expect(header(new AddressRateLimit(6000, 60_000, fakeClock().now).take('a'), 'RateLimit-Policy')).toBe('6000;w=60');
  });

  it('defaults to a one-minute window on the real clock', () => {
    const limiter = new AddressRateLimit(1);
    const first = limiter.take('a');
    expect(header(first, 'RateLimit-Policy')).toBe('1;w=60');
    expect(first.allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('tracks at most maxAddresses per window; addresses past it share one budget', () => {
    const limiter = new AddressRateLimit(2, 60_000, fakeClock().now, 3);
    for (const a of ['a', 'b', 'c']) expect(limiter.take(a).allowed).toBe(true);
    // A flood of new addresses cannot grow the map: they share the overflow budget of 2.
    expect(['d', 'e', 'f', 'g'].map((a) => limiter.take(a).allowed)).toEqual([true, true, false, false]);
    expect(countsOf(limiter).size).toBe(4);
    // Known addresses keep their own budget.
    expect(limiter.take('a').allowed).toBe(true);
  });
});
