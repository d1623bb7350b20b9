/** A timestamp (a Date, or what Postgres or JSON gave for one) as ISO 8601 UTC with milliseconds: what every API answer and event carries. */
export const iso = (t: Date | string | number): string => new Date(t).toISOString();

/** `iso`, or null for a missing timestamp. */
export const isoOrNull = (t: Date | string | number | null | undefined): string | null => (t === null || t === undefined ? null : iso(t));
