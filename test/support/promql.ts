/**
 * Just enough PromQL to evaluate the README's alert expressions against scraped text: selectors
 * with label matchers, `time()`, `rate(sel[range])`, `-`, comparisons with a number, and `and`.
 * Every operand here is a single series, so vectors are one value or none (no series).
 */

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One scrape: when it was taken (Unix seconds) and its series. */
export interface Scrape {
  at: number;
  series: Series[];
}

/** Prometheus text exposition → series. */
export function parseExposition(text: string, at = Date.now() / 1000): Scrape {
  const series: Series[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unreadable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { at, series };
}

/** "name{labels}" → value, for assertions on one scrape. */
export function valuesByKey(scrape: Scrape): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of scrape.series) {
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(",");
    out.set(labels ? `${s.name}{${labels}}` : s.name, s.value);
  }
  return out;
}

type Value = number | undefined;

const DURATION_S: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * Evaluates `expr` at the time of the last scrape; `scrapes` (oldest first) is the range `rate`
 * reads from. Returns the value of the resulting single-series vector, or undefined when it is
 * empty, i.e. the alert would not fire.
 */
export function evaluate(expr: string, scrapes: Scrape[]): Value {
  const tokens = expr.match(/[a-zA-Z_:][\w:]*\(\)|[a-zA-Z_:][\w:]*(?:\{[^}]*\})?|\[\d+[smh]\]|\d+(?:\.\d+)?|==|!=|>=|<=|[()><-]/g) ?? [];
  let i = 0;
  const now = scrapes.at(-1)!;
  const peek = () => tokens[i];
  const next = () => tokens[i++]!;

  const lookup = (selector: string, scrape: Scrape): Value => {
    const m = /^([\w:]+)(?:\{(.*)\})?$/.exec(selector)!;
    const want = [...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!] as const);
    const found = scrape.series.filter((s) => s.name === m[1] && want.every(([k, v]) => s.labels[k] === v));
    if (found.length > 1) throw new Error(`${selector} matches ${found.length} series; this evaluator handles one`);
    return found[0]?.value;
  };

  const term = (): Value => {
    const t = next();
    if (t === "time()") return now.at;
    if (/^\d/.test(t)) return Number(t);
    if (t === "rate") {
      if (next() !== "(") throw new Error("rate needs (");
      const selector = next();
      const range = /^\[(\d+)([smh])\]$/.exec(next())!;
      if (next() !== ")") throw new Error("rate needs )");
      const from = now.at - Number(range[1]) * DURATION_S[range[2]!]!;
      const points = scrapes.filter((s) => s.at >= from).map((s) => ({ at: s.at, v: lookup(selector, s) })).filter((p) => p.v !== undefined);
      if (points.length < 2) return undefined;
      const first = points[0]!;
      const last = points.at(-1)!;
      return (last.v! - first.v!) / (last.at - first.at);
    }
    return lookup(t, now);
  };

  const arithmetic = (): Value => {
    let left = term();
    while (peek() === "-") {
      next();
      const right = term();
      left = left === undefined || right === undefined ? undefined : left - right;
    }
    return left;
  };

  const comparison = (): Value => {
    const left = arithmetic();
    const op = peek();
    if (!op || ![">", "<", "==", "!=", ">=", "<="].includes(op)) return left;
    next();
    const right = Number(next());
    if (left === undefined) return undefined;
    const holds = { ">": left > right, "<": left < right, "==": left === right, "!=": left !== right, ">=": left >= right, "<=": left <= right }[op as ">"];
    return holds ? left : undefined;
  };

  let result = comparison();
  while (peek() === "and") {
    next();
    const right = comparison();
    if (right === undefined) result = undefined;
  }
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]} in ${expr}`);
  return result;
}
