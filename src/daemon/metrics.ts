import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The daemon's Prometheus metrics, in a registry of its own (never the global one). */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly lastBackupSuccess = new Gauge({ name: 'dbguard_last_backup_success_timestamp_seconds', help: 'Unix time of the newest valid backup', labelNames: ['target'], registers: [this.registry] });
  readonly backupDuration = new Histogram({ name: 'dbguard_backup_duration_seconds', help: 'Duration of successful backup runs', labelNames: ['target'], buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600], registers: [this.registry] });
  readonly backupSize = new Gauge({ name: 'dbguard_backup_size_bytes', help: 'Size of the newest valid backup', labelNames: ['target'], registers: [this.registry] });
  readonly runs = new Counter({ name: 'dbguard_runs_total', help: 'Finished runs by target, kind and result', labelNames: ['target', 'kind', 'result'], registers: [this.registry] });
  readonly rotationFailures = new Counter({ name: 'dbguard_rotation_failures_total', help: 'Backups published whose rotation could not delete old backups (they pile up)', labelNames: ['target'], registers: [this.registry] });
  readonly lastBackupLive = new Gauge({ name: 'dbguard_last_backup_live', help: '1 when the newest valid backup is a live copy (the database was held by the service), 0 when it was copied under the lock', labelNames: ['target'], registers: [this.registry] });
  /** Always 1; its `engine` label names the target's engine (info-style, so existing series keep their labels). */
  readonly targetInfo = new Gauge({ name: 'dbguard_target_info', help: 'Always 1; the engine label names the file format of the target (duckdb, sqlite, gdbm)', labelNames: ['target', 'engine'], registers: [this.registry] });
  readonly lastVerified = new Gauge({ name: 'dbguard_last_verified_timestamp_seconds', help: 'Unix time the target was last proven restorable (a full re-verification of a backup)', labelNames: ['target'], registers: [this.registry] });
  readonly healthy = new Gauge({ name: 'dbguard_database_healthy', help: '1 when the last check found the database healthy, 0 when damaged', labelNames: ['target'], registers: [this.registry] });

  readonly lastPushSuccess = new Gauge({ name: 'dbguard_last_push_success_timestamp_seconds', help: 'Unix time a push of the target to the remote last succeeded', labelNames: ['target'], registers: [this.registry] });
  readonly pushUploadedBytes = new Counter({ name: 'dbguard_push_uploaded_bytes_total', help: 'Bytes sent to the remote by pushes of the target (packs, indexes, block lists, manifests)', labelNames: ['target'], registers: [this.registry] });
  readonly pushFailures = new Counter({ name: 'dbguard_push_failures_total', help: 'Push attempts of the target that failed (CLI and daemon; each retry of a daemon push counts)', labelNames: ['target'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Sets the push series from the recorded push state of each target (CLI and daemon pushes alike). */
  setPushState(states: { target: string; lastSuccessAt: string | null; uploadedBytesTotal: number; failuresTotal: number }[]): void {
    for (const s of states) {
      if (s.lastSuccessAt) this.lastPushSuccess.set({ target: s.target }, Math.floor(new Date(s.lastSuccessAt).getTime() / 1000));
      this.pushUploadedBytes.remove({ target: s.target });
      this.pushUploadedBytes.inc({ target: s.target }, s.uploadedBytesTotal);
      this.pushFailures.remove({ target: s.target });
      this.pushFailures.inc({ target: s.target }, s.failuresTotal);
    }
  }
}
