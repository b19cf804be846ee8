import pc from "picocolors";
import type { Stream } from "../io.ts";

export interface Colors {
  enabled: boolean;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const identity = (s: string) => s;

export function makeColors(enabled: boolean): Colors {
  if (!enabled) {
    return { enabled, red: identity, green: identity, yellow: identity, cyan: identity, bold: identity, dim: identity };
  }
  const c = pc.createColors(true);
  return { enabled, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan, bold: c.bold, dim: c.dim };
}

/** Colour only on a TTY, and never when NO_COLOR is set (any value) or --no-color was given. */
export function colorsFor(stream: Stream, env: Record<string, string | undefined>, flag: boolean | undefined): Colors {
  const enabled = flag !== false && !("NO_COLOR" in env && env.NO_COLOR !== undefined) && stream.isTTY === true;
  return makeColors(enabled);
}
