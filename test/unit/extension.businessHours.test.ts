import {
  BusinessHoursError,
  checkBusinessHours,
  localClock,
  parseBusinessHours,
  parseClosedDates,
  parseWeeklyHours,
} from '../../extension/src/businessHours';

const weekdays9to5 = {
  mon: '09:00-17:00',
  tue: '09:00-17:00',
  wed: '09:00-17:00',
  thu: '09:00-17:00',
  fri: '09:00-17:00',
  sat: null,
  sun: null,
};
const at = (iso: string) => new Date(iso);

describe('localClock (Intl.DateTimeFormat in the zone)', () => {
  it('reads the local date, time and weekday, midnight as 00:00', () => {
    expect(localClock(at('2025-12-23T23:30:00Z'), 'Europe/Berlin')).toEqual({ date: '2025-12-24', minutes: 30, weekday: 'wed' });
    expect(localClock(at('2025-01-06T05:00:00Z'), 'America/New_York')).toEqual({ date: '2025-01-06', minutes: 0, weekday: 'mon' });
  });
});

describe('business hours across daylight-saving changes', () => {
  const berlin = parseBusinessHours({ timeZone: 'Europe/Berlin', weeklyHours: weekdays9to5, closedDates: [] });

  it('follows the clock change in Berlin (CET → CEST on 2025-03-30)', () => {
    // Friday before: UTC+1.
    expect(checkBusinessHours(berlin, at('2025-03-28T08:05:00Z'))).toMatchObject({ open: true, localTime: '09:05' });
    expect(checkBusinessHours(berlin, at('2025-03-28T07:55:00Z'))).toMatchObject({
      open: false,
      reason: 'outside_hours',
      localTime: '08:55',
    });
    // Monday after: UTC+2. A fixed +1 offset would call 07:05Z "08:05, closed" and 15:30Z "16:30, open".
    expect(checkBusinessHours(berlin, at('2025-03-31T07:05:00Z'))).toMatchObject({ open: true, localTime: '09:05' });
    expect(checkBusinessHours(berlin, at('2025-03-31T15:30:00Z'))).toMatchObject({
      open: false,
      reason: 'outside_hours',
      localTime: '17:30',
    });
  });

  it('handles the skipped hour of the spring-forward night', () => {
    const night = parseBusinessHours({ timeZone: 'Europe/Berlin', weeklyHours: { sun: '01:00-04:00' }, closedDates: [] });
    expect(checkBusinessHours(night, at('2025-03-30T00:59:00Z'))).toMatchObject({ open: true, localTime: '01:59' });
    // One minute later the clock reads 03:00 (02:00–02:59 never happens).
    expect(checkBusinessHours(night, at('2025-03-30T01:00:00Z'))).toMatchObject({ open: true, localTime: '03:00' });
    expect(checkBusinessHours(night, at('2025-03-30T02:00:00Z'))).toMatchObject({ open: false, localTime: '04:00' });
  });

  it('is open during both runs of the repeated hour of the fall-back night', () => {
    const night = parseBusinessHours({ timeZone: 'Europe/Berlin', weeklyHours: { sun: '02:00-03:00' }, closedDates: [] });
    expect(checkBusinessHours(night, at('2025-10-26T00:30:00Z'))).toMatchObject({ open: true, localTime: '02:30' }); // CEST
    expect(checkBusinessHours(night, at('2025-10-26T01:30:00Z'))).toMatchObject({ open: true, localTime: '02:30' }); // CET
    expect(checkBusinessHours(night, at('2025-10-26T02:00:00Z'))).toMatchObject({ open: false, localTime: '03:00' });
  });

  it('follows New York (EST → EDT on 2025-03-09)', () => {
    const ny = parseBusinessHours({ timeZone: 'America/New_York', weeklyHours: { ...weekdays9to5 }, closedDates: [] });
    expect(checkBusinessHours(ny, at('2025-03-07T14:00:00Z'))).toMatchObject({ open: true, localTime: '09:00', weekday: 'fri' });
    expect(checkBusinessHours(ny, at('2025-03-10T13:00:00Z'))).toMatchObject({ open: true, localTime: '09:00', weekday: 'mon' });
    expect(checkBusinessHours(ny, at('2025-03-10T12:59:00Z'))).toMatchObject({ open: false, localTime: '08:59' });
  });
});

describe('closed dates and overnight hours', () => {
  const hours = parseBusinessHours({
    timeZone: 'Europe/Berlin',
    weeklyHours: { ...weekdays9to5, fri: ['09:00-12:00', '22:00-02:00'] },
    closedDates: ['2025-12-24..2025-12-26', '2025-05-01', ' '],
  });

  it('closes a closed date all day, by the local date', () => {
    expect(checkBusinessHours(hours, at('2025-12-24T10:00:00Z'))).toMatchObject({
      open: false,
      reason: 'closed_date',
      localDate: '2025-12-24',
    });
    expect(checkBusinessHours(hours, at('2025-12-26T10:00:00Z'))).toMatchObject({ open: false, reason: 'closed_date' });
    expect(checkBusinessHours(hours, at('2025-12-23T10:00:00Z'))).toMatchObject({ open: true });
    expect(checkBusinessHours(hours, at('2025-12-27T10:00:00Z'))).toMatchObject({ open: false, reason: 'outside_hours', weekday: 'sat' });
  });

  it('uses the overnight range past midnight, unless its first day was closed', () => {
    // Friday 2025-05-09 22:00 → Saturday 02:00 (CEST).
    expect(checkBusinessHours(hours, at('2025-05-09T20:30:00Z'))).toMatchObject({ open: true, localTime: '22:30', weekday: 'fri' });
    expect(checkBusinessHours(hours, at('2025-05-09T23:30:00Z'))).toMatchObject({ open: true, localTime: '01:30', weekday: 'sat' });
    expect(checkBusinessHours(hours, at('2025-05-10T00:00:00Z'))).toMatchObject({ open: false, localTime: '02:00' });
    expect(checkBusinessHours(hours, at('2025-05-09T12:00:00Z'))).toMatchObject({ open: false, localTime: '14:00' });
    // Friday 2025-12-26 is closed: its night never opened.
    expect(checkBusinessHours(hours, at('2025-12-26T23:30:00Z'))).toMatchObject({ open: false, reason: 'outside_hours', weekday: 'sat' });
  });

  it('opens until 24:00 when asked', () => {
    const late = parseBusinessHours({ timeZone: 'UTC', weeklyHours: { mon: '18:00-24:00' }, closedDates: [] });
    expect(checkBusinessHours(late, at('2025-01-06T23:59:00Z'))).toMatchObject({ open: true });
    expect(checkBusinessHours(late, at('2025-01-07T00:00:00Z'))).toMatchObject({ open: false });
  });
});

describe('schedule errors name the field and the right form', () => {
  it.each([
    [() => parseBusinessHours({ timeZone: 'Mars/Olympus', weeklyHours: {}, closedDates: [] }), /Time zone "Mars\/Olympus".*Europe\/Berlin/],
    [() => parseWeeklyHours({ mon: '9-5' }), /"9-5" on mon.*09:00-17:00/],
    [() => parseWeeklyHours({ mon: '10:00-10:00' }), /10:00-10:00/],
    [() => parseWeeklyHours({ funday: '09:00-10:00' }), /"funday" is not a weekday/],
    [() => parseWeeklyHours(['09:00-17:00']), /must be an object/],
    [() => parseClosedDates(['2025-02-30']), /"2025-02-30"/],
    [() => parseClosedDates(['2025-12-26..2025-12-24']), /span like/],
    [() => parseClosedDates(['2025-01-01..2027-01-01']), /more than a year/],
  ])('rejects case %#', (parse, message) => {
    expect(parse).toThrow(BusinessHoursError);
    expect(parse).toThrow(message);
  });

  it('accepts full day names and empty days', () => {
    expect(parseWeeklyHours({ Monday: '08:00-12:00', sunday: [] })).toMatchObject({ mon: [{ start: 480, end: 720 }], sun: [] });
  });
});
