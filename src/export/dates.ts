const DAY_MS = 86_400_000;

/** The UTC calendar date of an instant, as the bulk export API names it: YYYY-MM-DD. */
export function utcDate(t: Date): string {
  return t.toISOString().slice(0, 10);
}

export function dateStart(date: string): Date {
  return new Date(`${date}T00:00:00.000Z`);
}

export function nextDate(date: string): string {
  return utcDate(new Date(dateStart(date).getTime() + DAY_MS));
}

export function daysFromNow(days: number, now = Date.now()): Date {
  return new Date(now + days * DAY_MS);
}
