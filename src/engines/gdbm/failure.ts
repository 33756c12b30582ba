/**
 * What a gdbmtool error message says about the file. `busy`, `missing` and
 * `storage` say nothing about its content (never damage); the rest are.
 */
export type GdbmFailureKind = 'needs-recovery' | 'busy' | 'empty' | 'missing' | 'storage' | 'byte-swapped' | 'corrupt';

export interface GdbmFailure {
  kind: GdbmFailureKind;
  message: string;
}

/** Classifies one gdbmtool error message (gdbm 1.23's gdbm_strerror texts). Pure. */
export function classifyGdbmError(message: string): GdbmFailure {
  const kind: GdbmFailureKind = /needs recovery/i.test(message)
    ? 'needs-recovery'
    : /Can't be (reader|writer)|Resource temporarily unavailable/i.test(message)
      ? 'busy'
      : /Empty database/i.test(message)
        ? 'empty'
        : /No such file or directory/i.test(message)
          ? 'missing'
          : /Permission denied|Read-only file system|No space left|Input\/output error|Disk quota|Too many open files|Cannot allocate memory|Malloc error/i.test(message)
            ? 'storage'
            : /Byte-swapped/i.test(message)
              ? 'byte-swapped'
              : 'corrupt';
  return { kind, message };
}
