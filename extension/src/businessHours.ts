import { z } from 'zod';

/**
 * Business hours for the Check Agent Availability node: a time zone, weekly opening hours and
 * closed dates. Wall-clock time comes from `Intl.DateTimeFormat` in the schedule's zone, so
 * daylight-saving changes need no arithmetic here: the instant is turned into the local date and
 * time people read on a clock there, and that is compared with the opening hours.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Minutes since local midnight, [start, end); end may be 1440 ("24:00"). */
export interface OpeningRange {
  start: number;
  end: number;
}

export interface BusinessHours {
  timeZone: string;
  weekly: Record<Weekday, OpeningRange[]>;
  /** Local dates "YYYY-MM-DD" on which the service is closed all day. */
  closedDates: ReadonlySet<string>;
}

export type BusinessHoursVerdict =
  | { open: true; localDate: string; localTime: string; weekday: Weekday }
  | { open: false; reason: 'closed_date' | 'outside_hours'; localDate: string; localTime: string; weekday: Weekday };

/** A schedule the node cannot use; the message names the field and shows the right form. */
export class BusinessHoursError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusinessHoursError';
  }
}

const TIME = /^([01]?\d|2[0-3]):([0-5]\d)$|^24:00$/u;
const RANGE = /^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$/u;
const DATE = /^\d{4}-\d{2}-\d{2}$/u;

function minutesOf(time: string): number | null {
  if (!TIME.test(time)) return null;
  const [h, m] = time.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** "09:00-17:00" → one range; an overnight range ("22:00-02:00") is kept as written and split when checked. */
function parseRange(text: string, day: Weekday): OpeningRange {
  const match = RANGE.exec(text);
  const start = match?.[1] !== undefined ? minutesOf(match[1]) : null;
  const end = match?.[2] !== undefined ? minutesOf(match[2]) : null;
  if (start === null || end === null || start === end || start === 1440) {
    throw new BusinessHoursError(
      `Weekly hours: "${text}" on ${day} is not a range like "09:00-17:00" (24-hour clock, "24:00" allowed as the end).`,
    );
  }
  return { start, end };
}

const weeklyInputSchema = z.record(z.string(), z.union([z.string(), z.array(z.string()), z.null()]));

/** Read the node's weekly hours JSON: `{"mon": "09:00-17:00", "sat": ["10:00-12:00", "13:00-16:00"], "sun": null}`. */
export function parseWeeklyHours(raw: unknown): Record<Weekday, OpeningRange[]> {
  const parsed = weeklyInputSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new BusinessHoursError('Weekly hours must be an object like {"mon": "09:00-17:00", "sat": null}.');
  const weekly = Object.fromEntries(WEEKDAYS.map((d) => [d, [] as OpeningRange[]])) as Record<Weekday, OpeningRange[]>;
  for (const [key, value] of Object.entries(parsed.data)) {
    const day = key.trim().toLowerCase().slice(0, 3) as Weekday;
    if (!WEEKDAYS.includes(day))
      throw new BusinessHoursError(`Weekly hours: "${key}" is not a weekday (use mon, tue, wed, thu, fri, sat, sun).`);
    const ranges = value === null ? [] : Array.isArray(value) ? value : [value];
    weekly[day].push(...ranges.filter((r) => r.trim() !== '').map((r) => parseRange(r, day)));
  }
  return weekly;
}

/** Closed dates: "YYYY-MM-DD", or a span "YYYY-MM-DD..YYYY-MM-DD" (both days closed; at most 366 days). */
export function parseClosedDates(entries: readonly string[]): Set<string> {
  const closed = new Set<string>();
  for (const entry of entries) {
    const text = entry.trim();
    if (text === '') continue;
    const span = text.split('..').map((s) => s.trim());
    const from = span[0] ?? '';
    const to = span[1] ?? from;
    if (span.length > 2 || !DATE.test(from) || !DATE.test(to) || !validDate(from) || !validDate(to) || to < from) {
      throw new BusinessHoursError(`Closed dates: "${text}" is not a date like "2025-12-24" or a span like "2025-12-24..2025-12-26".`);
    }
    let day = from;
    for (let i = 0; day <= to; i += 1) {
      if (i === 366) throw new BusinessHoursError(`Closed dates: "${text}" spans more than a year.`);
      closed.add(day);
      day = nextDate(day);
    }
  }
  return closed;
}

function validDate(date: string): boolean {
  const d = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === date;
}

function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

function previousDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/** Check an IANA zone name ("Europe/Berlin") with the runtime's own time-zone data. */
export function checkTimeZone(timeZone: string): string {
  const zone = timeZone.trim();
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new BusinessHoursError(`Time zone "${zone}" is not an IANA time zone name like "Europe/Berlin" or "America/New_York".`);
  }
}

export function parseBusinessHours(raw: { timeZone: string; weeklyHours: unknown; closedDates: readonly string[] }): BusinessHours {
  return {
    timeZone: checkTimeZone(raw.timeZone),
    weekly: parseWeeklyHours(raw.weeklyHours),
    closedDates: parseClosedDates(raw.closedDates),
  };
}

interface LocalClock {
  date: string;
  minutes: number;
  weekday: Weekday;
}

/** The wall clock in `timeZone` at `instant`. */
export function localClock(instant: Date, timeZone: string): LocalClock {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    weekday: 'short',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  const weekday = part('weekday').toLowerCase().slice(0, 3) as Weekday;
  return { date: `${part('year')}-${part('month')}-${part('day')}`, minutes: Number(part('hour')) * 60 + Number(part('minute')), weekday };
}

function previousWeekday(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7] ?? 'sun';
}

function clockText(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/**
 * Open or not at `instant`. A closed date closes its whole local day, including the morning part
 * of an overnight range that began the evening before.
 */
export function checkBusinessHours(hours: BusinessHours, instant: Date): BusinessHoursVerdict {
  const clock = localClock(instant, hours.timeZone);
  const seen = { localDate: clock.date, localTime: clockText(clock.minutes), weekday: clock.weekday };
  if (hours.closedDates.has(clock.date)) return { open: false, reason: 'closed_date', ...seen };
  const today = hours.weekly[clock.weekday].some((r) =>
    r.end > r.start ? clock.minutes >= r.start && clock.minutes < r.end : clock.minutes >= r.start,
  );
  // The tail of yesterday's overnight range, unless yesterday was closed (then it never opened).
  const yesterdayClosed = hours.closedDates.has(previousDate(clock.date));
  const fromYesterday =
    !yesterdayClosed && hours.weekly[previousWeekday(clock.weekday)].some((r) => r.end < r.start && clock.minutes < r.end);
  return today || fromYesterday ? { open: true, ...seen } : { open: false, reason: 'outside_hours', ...seen };
}
