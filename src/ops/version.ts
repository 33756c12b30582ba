/** The version of dbguard itself, from package.json. */
export function dbguardVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../package.json') as { version: string }).version;
}
