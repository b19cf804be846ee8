/**
 * Exit codes: 0 ok, 1 a problem was found (lint errors, unhealthy namespace, failed check),
 * 2 usage or input error (nothing was written), 3 could not check (the live verbs: the API server is
 * unreachable, rejected the credentials, timed out, or refused every read that matters), 130
 * interrupted.
 */
export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNCHECKED = 3;
export const EXIT_INTERRUPTED = 130;
export type ExitCode = typeof EXIT_PROBLEM | typeof EXIT_USAGE | typeof EXIT_UNCHECKED | typeof EXIT_INTERRUPTED;

/** An error the user can act on. `hint` is printed under the message; `detail` (a diff, a list) after it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_USAGE,
    readonly hint?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A signal arrived while a write was held to completion: exit 128 + the signal's number (130 for SIGINT). */
export class Interrupted extends Error {
  readonly exitCode: number;
  constructor(
    readonly signal: NodeJS.Signals,
    message: string,
  ) {
    super(message);
    this.name = "Interrupted";
    this.exitCode = 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal]!;
  }
}

export function usageError(message: string, hint?: string, detail?: string): CliError {
  return new CliError(message, EXIT_USAGE, hint, detail);
}

export const ERRNO_WORDS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOENT: "no such file or directory",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ELOOP: "too many levels of symbolic links",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
  EIO: "input/output error",
  EFBIG: "file too large",
  EBUSY: "resource busy",
};

/** The operating system's reason in words, e.g. "permission denied (EACCES)". */
export function describeErrno(e: NodeJS.ErrnoException): string {
  const words = e.code ? ERRNO_WORDS[e.code] : undefined;
  if (words) return `${words} (${e.code})`;
  return e.code ? `${e.message} (${e.code})` : e.message;
}
