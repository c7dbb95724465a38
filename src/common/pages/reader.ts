/**
 * Who reads a page, as far as dates go: the language the browser asks for (`Accept-Language`) and the time zone
 * it reports (the `tz` cookie, set by /assets/pages.js). Dates are written on the server in the reader's own time
 * zone and language, naming the zone; anything missing or not understood falls back to British English and UTC.
 */
export const TIME_ZONE_COOKIE = 'tz';

const FALLBACK_LOCALE = 'en-GB';
const MAX_FORMATTERS = 200;
const formatters = new Map<string, Intl.DateTimeFormat>();

export interface ReaderDate {
  /** For people: "2 Dec 2026, 16:05 CET". */
  readonly text: string;
  /** For `<time datetime>`. */
  readonly iso: string;
}

export class Reader {
  private constructor(readonly locale: string, readonly timeZone: string) {}

  static of(acceptLanguage: unknown, cookies: Record<string, unknown>): Reader {
    return new Reader(negotiateLocale(acceptLanguage), validTimeZone(cookies[TIME_ZONE_COOKIE]) ?? 'UTC');
  }

  /** A moment, with the time and the zone. */
  dateTime(date: Date): ReaderDate {
    return { text: this.format('dateTime', date), iso: date.toISOString() };
  }

  /** A day. */
  day(date: Date): ReaderDate {
    return { text: this.format('day', date), iso: date.toISOString() };
  }

  /** A time of day, with the zone. */
  time(date: Date): ReaderDate {
    return { text: this.format('time', date), iso: date.toISOString() };
  }

  private format(style: 'dateTime' | 'day' | 'time', date: Date): string {
    const key = `${style}|${this.locale}|${this.timeZone}`;
    let formatter = formatters.get(key);
    if (!formatter) {
      if (formatters.size >= MAX_FORMATTERS) formatters.clear();
      formatter = new Intl.DateTimeFormat(this.locale, { ...STYLES[style], timeZone: this.timeZone });
      formatters.set(key, formatter);
    }
    return formatter.format(date);
  }
}

const STYLES: Record<'dateTime' | 'day' | 'time', Intl.DateTimeFormatOptions> = {
  dateTime: { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' },
  day: { year: 'numeric', month: 'long', day: 'numeric' },
  time: { hour: 'numeric', minute: '2-digit', timeZoneName: 'short' },
};

/** The first language of `Accept-Language` (by weight) that Intl can format dates in. */
export function negotiateLocale(header: unknown): string {
  if (typeof header !== 'string' || header.length > 512) return FALLBACK_LOCALE;
  const ranges = header.split(',').slice(0, 20).map((part, i) => {
    const [tag, ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([01](\.\d{0,3})?)\s*$/.exec(p)).find(Boolean);
    return { tag: tag.trim(), q: q ? Number(q[1]) : 1, i };
  }).filter((r) => r.q > 0 && /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(r.tag));
  ranges.sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { tag } of ranges) {
    try {
      const [supported] = Intl.DateTimeFormat.supportedLocalesOf([tag]);
      if (supported) return supported;
    } catch {
      // Not a well-formed BCP 47 tag: try the next.
    }
  }
  return FALLBACK_LOCALE;
}

/** An IANA time zone name Intl knows, or undefined. */
export function validTimeZone(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(value)) return undefined;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
