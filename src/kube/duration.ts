/**
 * kubectl-style durations ("30s", "1m30s", "500ms", "0", a plain number of seconds) for the live verbs'
 * flags. Pure: it loads nothing from @kubernetes/client-node, so commands can check every flag before
 * they connect (a bad value is a usage error even without a cluster).
 */
import { KubeError } from "./errors.ts";

/** The longest duration a flag takes: Node's timers hold at most 2^31-1 ms (about 24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647;

/**
 * Milliseconds of `text`; a KubeError of kind "usage" naming `flag` when it is not a duration, or is
 * longer than a timer can wait (`--request-timeout 99999999h` is a usage error, not a Node
 * "delay out of range" later).
 */
export function parseDuration(text: string, flag: string, example = "30s, 1m or 0 (no timeout)"): number {
  const ms = parse(text, flag, example);
  if (!Number.isSafeInteger(ms) || ms > MAX_DURATION_MS) {
    throw new KubeError("usage", `${flag} ${text}: too long; at most 596h (24 days)`);
  }
  return ms;
}

function parse(text: string, flag: string, example: string): number {
  const t = text.trim();
  if (/^[0-9]+$/.test(t)) return Number(t) * 1000;
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const n = Number(m[1]);
    total += m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n * 3_600_000;
    matched = re.lastIndex;
  }
  if (matched !== t.length || t.length === 0) {
    throw new KubeError("usage", `${flag} ${text}: expected a duration such as ${example}`);
  }
  return Math.round(total);
}
