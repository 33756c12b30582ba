/** The embedded defaults of DESIGN.md §3, used when no config file exists. */
export const DEFAULT_CONFIG = {
  backupDir: 'backups',
  keep: 30,
  targets: {
    production: { path: 'data/production.duckdb' },
    staging: { path: 'data/staging.duckdb' },
  },
  schedule: { backup: '0 2 * * *', check: '0 * * * *', timezone: 'local' },
  retry: { attempts: 5, baseDelayMs: 1000, factor: 2, maxDelayMs: 300000 },
  http: { host: '127.0.0.1', port: 9977 },
  alerts: { webhook: null, email: null },
} as const;

export const CONFIG_FILE_NAME = 'dbguard.config.json';
