/**
 * Just enough cron to answer "how long may pass between two runs of this schedule": the five
 * standard fields (minute hour day-of-month month day-of-week) with `*`, numbers, ranges, steps,
 * lists and month/day names, plus the @hourly/@daily/@weekly/@monthly/@yearly macros. Volsync's
 * `spec.trigger.schedule` uses this syntax (robfig/cron's standard parser).
 */

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface Field {
  min: number;
  max: number;
  names?: string[];
  /** Offset of names[0]. */
  nameBase?: number;
}

const FIELDS: Field[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { min: 0, max: 7, names: DAYS, nameBase: 0 },
];

function value(s: string, f: Field): number {
  const i = f.names?.indexOf(s.toLowerCase()) ?? -1;
  if (i >= 0) return i + (f.nameBase ?? 0);
  if (!/^[0-9]+$/.test(s)) throw new Error(`"${s}" is not a number`);
  return Number(s);
}

function expand(expr: string, f: Field): { set: Set<number>; star: boolean } {
  const set = new Set<number>();
  let star = false;
  for (const part of expr.split(",")) {
    const [range, stepText] = part.split("/") as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step in "${part}"`);
    let lo: number;
    let hi: number;
    if (range === "*" || range === "?") {
      lo = f.min;
      hi = f.max;
      if (stepText === undefined) star = true;
    } else if (range.includes("-")) {
      const [a, b] = range.split("-") as [string, string];
      lo = value(a, f);
      hi = value(b, f);
    } else {
      lo = value(range, f);
      hi = stepText === undefined ? lo : f.max;
    }
    if (lo < f.min || hi > f.max || lo > hi) throw new Error(`"${part}" is out of range ${f.min}-${f.max}`);
    for (let v = lo; v <= hi; v += step) set.add(v);
  }
  return { set, star };
}

export interface Cron {
  minutes: number[];
  hours: number[];
  dom: Set<number>;
  months: Set<number>;
  dow: Set<number>;
  domStar: boolean;
  dowStar: boolean;
}

/** Parses a schedule; throws an Error naming the problem. `CRON_TZ=`/`TZ=` prefixes are ignored. */
export function parseCron(schedule: string): Cron {
  let text = schedule.trim().replace(/^(CRON_TZ|TZ)=\S+\s+/, "");
  text = MACROS[text] ?? text;
  if (text.startsWith("@every ")) throw new Error("@every is not a cron schedule");
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected 5 fields, got ${parts.length}`);
  const [mi, h, dm, mo, dw] = parts.map((p, i) => expand(p, FIELDS[i] as Field)) as [
    ReturnType<typeof expand>,
    ReturnType<typeof expand>,
    ReturnType<typeof expand>,
    ReturnType<typeof expand>,
    ReturnType<typeof expand>,
  ];
  const dow = new Set([...dw.set].map((d) => d % 7));
  return {
    minutes: [...mi.set].sort((a, b) => a - b),
    hours: [...h.set].sort((a, b) => a - b),
    dom: dm.set,
    months: mo.set,
    dow,
    domStar: dm.star,
    dowStar: dw.star,
  };
}

function dayMatches(c: Cron, d: Date): boolean {
  if (!c.months.has(d.getUTCMonth() + 1)) return false;
  const domOk = c.dom.has(d.getUTCDate());
  const dowOk = c.dow.has(d.getUTCDay());
  // Standard cron: when both day fields are restricted, either may match.
  if (c.domStar && c.dowStar) return true;
  if (c.domStar) return dowOk;
  if (c.dowStar) return domOk;
  return domOk || dowOk;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const intervals = new Map<string, number>();

/**
 * The longest time between two consecutive runs, in milliseconds, over a 400-day window (enough for
 * monthly and yearly-in-a-leap-window schedules; a yearly one is reported as about a year).
 */
export function maxInterval(schedule: string): number {
  const cached = intervals.get(schedule);
  if (cached !== undefined) return cached;
  const c = parseCron(schedule);
  const start = Date.UTC(2024, 0, 1);
  const perDay: number[] = [];
  for (const h of c.hours) for (const m of c.minutes) perDay.push((h * 60 + m) * MINUTE);
  let prev: number | undefined;
  let first: number | undefined;
  let max = 0;
  for (let day = 0; day < 400; day++) {
    const t0 = start + day * DAY;
    if (!dayMatches(c, new Date(t0))) continue;
    for (const off of perDay) {
      const t = t0 + off;
      if (prev !== undefined) max = Math.max(max, t - prev);
      else first = t;
      prev = t;
    }
  }
  if (prev === undefined || first === undefined) throw new Error("the schedule never runs");
  if (max === 0) max = 365 * DAY; // one run in the window: about yearly
  intervals.set(schedule, max);
  return max;
}

/** "2h", "1d 12h", "30m" */
export function humanDuration(ms: number): string {
  const m = Math.round(ms / MINUTE);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const mm = m % 60;
  const parts = [d ? `${d}d` : "", h ? `${h}h` : "", mm ? `${mm}m` : ""].filter(Boolean);
  return parts.length ? parts.join(" ") : "0m";
}
