/** The process boundary, passed in so tests can run commands in-process and capture output. */
export interface Stream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface Io {
  stdout: Stream;
  stderr: Stream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** An Io that records everything written; for tests and for embedding. */
export function bufferIo(opts: { cwd: string; env?: Record<string, string | undefined> }): Io & {
  out(): string;
  err(): string;
} {
  let out = "";
  let err = "";
  return {
    stdout: { write: (s: string) => (out += s), isTTY: false },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    env: opts.env ?? {},
    cwd: opts.cwd,
    out: () => out,
    err: () => err,
  };
}
