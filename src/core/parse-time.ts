import { endOfDay } from 'date-fns/endOfDay';
import { isValid } from 'date-fns/isValid';
import { parse } from 'date-fns/parse';
import { parseISO } from 'date-fns/parseISO';

const FORMATS = ['yyyy-MM-dd HH:mm:ss', 'yyyy-MM-dd HH:mm', 'yyyy-MM-dd HH', 'yyyyMMdd_HHmmss', 'yyyyMMdd HHmmss', 'yyyyMMdd', 'dd.MM.yyyy HH:mm', 'dd.MM.yyyy', 'yyyy/MM/dd HH:mm', 'yyyy/MM/dd'];

/**
 * Parses a point in time for `restore --at`: ISO 8601 (with or without zone),
 * "2024-01-15 02:00", "20240115_020000", "15.01.2024", "2024/01/15" (local
 * time), or a relative "3h ago" / "2d ago". A date without a time means the
 * end of that day. Returns undefined when the text is not a time.
 */
export function parseTime(text: string, now: Date = new Date()): Date | undefined {
  const t = text.trim();
  const rel = /^(\d+)\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\s+ago$/i.exec(t);
  if (rel) {
    const n = Number(rel[1]);
    const unit = rel[2]!.toLowerCase()[0]!;
    const ms = { m: 60000, h: 3600000, d: 86400000, w: 604800000 }[unit as 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - n * ms);
  }
  const dateOnly = /^\d{4}-\d{2}-\d{2}$|^\d{8}$|^\d{2}\.\d{2}\.\d{4}$|^\d{4}\/\d{2}\/\d{2}$/.test(t);
  if (/^\d{4}-\d{2}-\d{2}T/.test(t) || /^\d{4}-\d{2}-\d{2}$/.test(t)) {
    const d = parseISO(t);
    if (isValid(d)) return dateOnly ? endOfDay(d) : d;
  }
  for (const f of FORMATS) {
    const d = parse(t, f, now);
    if (isValid(d) && f.length === t.length) return dateOnly ? endOfDay(d) : d;
  }
  return undefined;
}
