/** The process exit codes of DESIGN.md §1; the CLI entry point is the only place they become an exit. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  integrity: 4,
  busy: 5,
  storage: 6,
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
