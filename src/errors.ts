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

export function usageError(message: string, hint?: string, detail?: string): CliError {
  return new CliError(message, EXIT_USAGE, hint, detail);
}
