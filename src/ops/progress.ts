/** Progress events that long operations emit; the CLI turns them into a bar on a terminal. */
export type ProgressFn = (event: { target: string; phase: string; done: number; total: number }) => void;
