import { z } from 'zod';
import { validateCron } from '../core/schedule';
import { parseDuration } from '../core/retry';
import { allExtensions, engineChoices, engineNames } from '../engines/registry';

/** A whole number ≥ min with an operator-readable message. */
const whole = (min: number, what = 'a whole number') =>
  z.number({ error: `must be ${what} ≥ ${min}` }).int({ error: `must be ${what} ≥ ${min}` }).min(min, { error: `must be ${what} ≥ ${min}` });

const nonEmpty = (what: string) => z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });

const cronText = nonEmpty('a cron expression such as "0 2 * * *"').superRefine((expr, ctx) => {
  try {
    validateCron(expr);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `must be a cron expression such as "0 2 * * *" (5 fields, or 6 with seconds): ${(err as Error).message}` });
  }
});

/** Target names become file names and environment variable names, so keep them simple. */
export const TARGET_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Selector words (DESIGN.md §1): a target with one of these names could never be selected alone. */
export const RESERVED_TARGET_NAMES = ['all', 'both'];

/**
 * The longest file name dbguard derives from a target name `T` is a manifest
 * being written: `.T_data_YYYYMMDD_HHMMSS_NNNN<ext>.json.<pid>.tmp`, `<ext>` the
 * longest backup extension of a registered engine (a pid has
 * at most 7 digits on Linux, 4194304). Backups, their `.tmp.wal.checkpoint`
 * copies, lock files (`.T.lock.<pid>.new`) and quarantine / pre-restore
 * folders (`T_YYYYMMDD_HHMMSS_N`) are shorter. Names are ASCII, so characters
 * are bytes; 255 bytes is the limit of ext4, XFS, btrfs, APFS and NTFS.
 */
const LONGEST_EXTENSION = Math.max(...allExtensions().map((e) => e.length));
const LONGEST_DERIVED_OVERHEAD = '._data_20240115_020000_9999'.length + LONGEST_EXTENSION + '.json.4194304.tmp'.length;
/** 255 bytes less that overhead, rounded down to leave room for names added later. */
export const MAX_TARGET_NAME_LENGTH = Math.floor((255 - LONGEST_DERIVED_OVERHEAD) / 10) * 10;

const targetName = z
  .string()
  .regex(TARGET_NAME, { error: 'target names must start with a letter and use only letters, digits, "_" and "-"' })
  .max(MAX_TARGET_NAME_LENGTH, { error: `target names may have at most ${MAX_TARGET_NAME_LENGTH} characters, so that every backup, manifest and lock file name derived from them fits in 255 bytes: choose a shorter name` })
  .refine((n) => !RESERVED_TARGET_NAMES.includes(n), { error: `"all" and "both" select several targets on the command line, so they cannot name one: choose another name` });

const targetSchema = z.strictObject({
  path: nonEmpty('the path of the database file, e.g. "data/production.duckdb"'),
  requiredTables: z.array(nonEmpty('a table name'), { error: 'must be a list of table names' }).optional(),
  schedule: z
    .strictObject({ backup: cronText.optional(), check: cronText.optional(), verify: cronText.optional() }, { error: 'must be an object with "backup", "check" and/or "verify" cron expressions' })
    .optional(),
  schema: nonEmpty('the path of a SQL file with the schema').optional(),
  /** "auto" (the default): a database held by another process is backed up by a live copy; "never": such a backup exits 5. */
  live: z.enum(['auto', 'never'], { error: 'must be "auto" (live copy when the file is held) or "never" (exit 5 when it is held)' }).optional(),
  /** The file format (engines/registry.ts); without it the engine is detected from the file (ops/engine-of.ts). */
  engine: z.enum(engineNames(), { error: `must be ${engineChoices()} (leave it out to detect the format from the file)` }).optional(),
}, { error: 'must be an object with at least "path"' });

const retentionSchema = z.strictObject({
  daily: whole(0).optional(),
  weekly: whole(0).optional(),
  monthly: whole(0).optional(),
}, { error: 'must be an object with "daily", "weekly" and/or "monthly" counts' });

const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  format: z.enum(['json', 'slack'], { error: 'must be "json" or "slack"' }).default('json'),
}, { error: 'must be null or an object with "url"' });

const emailSchema = z.strictObject({
  host: nonEmpty('the SMTP host name'),
  port: whole(1).max(65535, { error: 'must be a port number 1–65535' }),
  secure: z.boolean({ error: 'must be true or false' }).default(false),
  user: z.string().optional(),
  from: nonEmpty('the sender address'),
  to: z.union([nonEmpty('a recipient address'), z.array(nonEmpty('a recipient address')).min(1)], { error: 'must be an address or a list of addresses' }),
}, { error: 'must be null or an object with host, port, from and to' });

/** The whole configuration: one schema gives the type, the validation and the messages. */
export const configSchema = z.strictObject({
  backupDir: nonEmpty('a folder path'),
  keep: whole(1),
  retention: retentionSchema.optional(),
  targets: z
    .record(targetName, targetSchema, { error: 'must be an object of named targets' })
    .refine((t) => Object.keys(t).length > 0, { error: 'must name at least one target' }),
  schedule: z.strictObject({
    backup: cronText,
    check: cronText,
    /** Restore drills: the daemon re-verifies the newest backup of each target in full (default weekly, Sunday 03:00). */
    verify: cronText.default('0 3 * * 0'),
    timezone: nonEmpty('"local" or an IANA time zone such as "Europe/Berlin"').refine((tz) => {
      if (tz === 'local') return true;
      try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return true; } catch { return false; }
    }, { error: 'must be "local" or an IANA time zone such as "Europe/Berlin"' }),
  }, { error: 'must be an object with backup, check and timezone' }),
  retry: z.strictObject({
    attempts: whole(1),
    baseDelayMs: whole(0),
    factor: z.number({ error: 'must be a number ≥ 1' }).min(1, { error: 'must be a number ≥ 1' }),
    maxDelayMs: whole(0),
  }, { error: 'must be an object with attempts, baseDelayMs, factor and maxDelayMs' }),
  http: z.strictObject({
    host: nonEmpty('a host name or IP address'),
    port: whole(0).max(65535, { error: 'must be a port number 0–65535' }),
    token: z.string().optional(),
  }, { error: 'must be an object with host and port' }),
  alerts: z.strictObject({
    webhook: webhookSchema.nullable().default(null),
    email: emailSchema.nullable().default(null),
    /** healthchecks.io convention: `url` + "/start" when a run begins, `url` on success, `url` + "/fail" on failure; `start`/`success`/`failure` override one each. */
    ping: z.strictObject({
      url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
      start: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
      success: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
      failure: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    }, { error: 'must be an object with "url" (and optionally "start", "success", "failure")' }).optional(),
  }, { error: 'must be an object' }),
  /** Daemon: repair a target (strategy auto) when a scheduled check finds damage. */
  autoRepair: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * How backups are kept (issue 11). "files" (the default): every backup a
   * plain file. "blocks": history in the deduplicated store under
   * `<backupDir>/store/`, and the newest `plain` backups per target also as
   * plain files.
   */
  storage: z.strictObject({
    format: z.enum(['files', 'blocks'], { error: 'must be "files" (every backup a plain file) or "blocks" (a deduplicated store)' }).default('files'),
    plain: whole(0).default(1),
  }, { error: 'must be an object with "format" ("files" or "blocks") and optionally "plain"' }).default({ format: 'files', plain: 1 }),
  /**
   * Off-site copies on S3-compatible object storage (issue 12). Credentials
   * come only from the standard AWS environment variables or credential files.
   */
  remote: z.strictObject({
    url: z.string({ error: 'must be an s3://bucket/prefix URL' }).regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, { error: 'must be an s3://bucket/prefix URL (a bucket name of 3–63 lower-case letters, digits, "." and "-")' }),
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of the S3-compatible service, e.g. "https://s3.eu-central-003.backblazeb2.com"' }).optional(),
    region: nonEmpty('a region name such as "us-east-1"').default('us-east-1'),
    forcePathStyle: z.boolean({ error: 'must be true or false' }).default(false),
    /** AES-256-GCM per object, key from DBGUARD_REMOTE_KEY. */
    encryption: z.boolean({ error: 'must be true or false' }).default(false),
    /** Push after every successful backup (CLI and daemon). */
    auto: z.boolean({ error: 'must be true or false' }).default(false),
    keep: whole(1).optional(),
    retention: retentionSchema.optional(),
    /** An alert fires when the newest off-site backup of a target is older than this ("36h", "2d"). */
    maxAge: nonEmpty('a duration such as "36h" or "2d"').refine((t) => parseDuration(t) !== undefined, { error: 'must be a duration such as "36h" or "2d"' }).optional(),
  }, { error: 'must be null or an object with "url" (s3://bucket/prefix)' }).nullable().default(null),
  concurrency: whole(1).default(1),
  shutdownTimeoutMs: whole(0).default(60000),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type TargetConfig = ParsedConfig['targets'][string];
