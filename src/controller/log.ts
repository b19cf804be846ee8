/** Structured logs: one JSON object per line ({time, level, msg, ...fields}), as log collectors expect. */
export type Level = "debug" | "info" | "warn" | "error";

export type Log = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function jsonLog(write: (line: string) => void, min: Level = "info", now = () => new Date()): Log {
  return (level, msg, fields = {}) => {
    if (RANK[level] < RANK[min]) return;
    write(`${JSON.stringify({ time: now().toISOString(), level, msg, ...fields })}\n`);
  };
}
