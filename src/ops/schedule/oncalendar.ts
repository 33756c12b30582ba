import { UsageError } from '../../core/errors';
import { cronFields } from './cron-fields';

const DOW_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** One cron field in systemd syntax: lists stay, a-b becomes a..b, a step "every n" becomes start/n. */
function field(value: string, start: number, pad: number, what: string, expr: string): string {
  if (value === '*' || value === '?') return '*';
  return value.split(',').map((part) => {
    const m = /^(\*|\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`cannot translate the ${what} field "${part}" of "${expr}" to systemd OnCalendar`, 'use numbers, lists, ranges and steps, or write OnCalendar by hand');
    const [, a, b, step] = m;
    if (b && step) throw new UsageError(`"${expr}": a stepped range in the ${what} field cannot be written as systemd OnCalendar`, 'use a list instead, e.g. 0,15,30,45');
    const from = (a === '*' ? String(start) : a!).padStart(pad, '0');
    if (b) return `${from}..${b.padStart(pad, '0')}`;
    return step ? `${from}/${step}` : from;
  }).join(',');
}

function dowField(value: string, expr: string): string {
  if (value === '*' || value === '?') return '';
  return value.split(',').map((part) => {
    const m = /^(\d)(?:-(\d))?$/.exec(part);
    if (!m) throw new UsageError(`cannot translate the weekday field "${part}" of "${expr}" to systemd OnCalendar`, 'use day numbers, lists and ranges');
    return m[2] ? `${DOW_NAMES[Number(m[1]) % 7]}..${DOW_NAMES[Number(m[2]) % 7]}` : DOW_NAMES[Number(m[1]) % 7]!;
  }).join(',');
}

/**
 * Translates a cron expression to systemd's OnCalendar, e.g. "0 2 * * *" →
 * "*-*-* 02:00:00" and "30 4 * * 1-5" → "Mon..Fri *-*-* 04:30:00". Throws
 * UsageError for what OnCalendar cannot say. Cron ORs a restricted day of
 * month with a restricted weekday, systemd ANDs them: such expressions are
 * refused rather than translated wrongly.
 */
export function cronToOnCalendar(expr: string): string {
  const f = cronFields(expr);
  if (f.dom !== '*' && f.dom !== '?' && f.dow !== '*' && f.dow !== '?') {
    throw new UsageError(`"${expr}" restricts both day of month and weekday, which cron ORs but systemd ANDs`, 'split it into two timers, or restrict only one of them');
  }
  const dow = dowField(f.dow, expr);
  const date = `*-${field(f.month, 1, 2, 'month', expr)}-${field(f.dom, 1, 2, 'day-of-month', expr)}`;
  const time = `${field(f.hour, 0, 2, 'hour', expr)}:${field(f.minute, 0, 2, 'minute', expr)}:${field(f.second, 0, 2, 'second', expr)}`;
  return `${dow ? `${dow} ` : ''}${date} ${time}`;
}
