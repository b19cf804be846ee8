/**
 * Exit codes: 0 ok, 1 a problem was found (lint errors, unhealthy namespace, failed check),
 * 2 usage or input error (nothing was written).
 */
export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

/** An error the user can act on. `hint` is printed under the message; `detail` (a diff, a list) after it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = EXIT_USAGE,
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
