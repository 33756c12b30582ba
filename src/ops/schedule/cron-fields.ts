import { UsageError } from '../../core/errors';

export interface CronFields {
  second: string;
  minute: string;
  hour: string;
  dom: string;
  month: string;
  dow: string;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Splits a 5- or 6-field cron expression (seconds first in 6) and turns month and day names into numbers. */
export function cronFields(expr: string, key = 'schedule.backup'): CronFields {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) throw new UsageError(`${key} "${expr}" is not a 5- or 6-field cron expression`, 'e.g. "0 2 * * *"');
  const [second, minute, hour, dom, month, dow] = parts.length === 6 ? parts : ['0', ...parts];
  const names = (field: string, list: string[], offset: number) => field.toUpperCase().replace(/[A-Z]{3}/g, (n) => {
    const i = list.indexOf(n);
    if (i < 0) throw new UsageError(`${key} "${expr}": unknown name ${n}`, 'use numbers or JAN–DEC / SUN–SAT');
    return String(i + offset);
  });
  return { second: second!, minute: minute!, hour: hour!, dom: dom!, month: names(month!, MONTHS, 1), dow: names(dow!, DAYS, 0).replace(/\b7\b/g, '0') };
}

/** True when a field is a plain number (e.g. "2"), not a list, range, step or wildcard. */
export const isFixed = (field: string) => /^\d+$/.test(field);
