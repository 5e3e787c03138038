import { Readable } from "node:stream";
import { runConfigure, type ConfigureArgs, type ConfigureResult } from "../../src/configure/index.ts";

export interface ConfigureRun extends ConfigureResult {
  out: string;
  printed: string[];
  warnings: string[];
}

/** Stdin as configure sees it: a pipe carrying `text`, or a terminal when `text` is undefined. */
export function fakeStdin(text: string | undefined): Readable & { isTTY?: boolean } {
  const stream = Readable.from(text === undefined ? [] : [Buffer.from(text)]) as Readable & { isTTY?: boolean };
  stream.isTTY = text === undefined;
  return stream;
}

/** Runs configure in-process; RSA 2048 unless the test asks otherwise, to keep key generation quick. */
export async function configureInto(out: string, stdin: string | undefined, args: Partial<ConfigureArgs> = {}): Promise<ConfigureRun> {
  const printed: string[] = [];
  const warnings: string[] = [];
  const result = await runConfigure(
    { out, length: "2048", ...args },
    { stdin: fakeStdin(stdin), print: (l) => printed.push(l), warn: (l) => warnings.push(l), cwd: process.cwd() },
  );
  return { ...result, out, printed, warnings };
}

export interface ConfBlock {
  name: string;
  arg: string;
  directives: Map<string, string>;
  children: ConfBlock[];
}

/** Just enough of Fluentd's config syntax to check what sits inside which section. */
export function parseFluentConf(text: string): ConfBlock {
  const root: ConfBlock = { name: "root", arg: "", directives: new Map(), children: [] };
  const stack = [root];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const open = /^<([a-z_]+)\s*([^>]*)>$/.exec(line);
    const close = /^<\/([a-z_]+)>$/.exec(line);
    const top = stack[stack.length - 1]!;
    if (close) {
      if (top.name !== close[1]) throw new Error(`unbalanced </${close[1]}> inside <${top.name}>`);
      stack.pop();
    } else if (open) {
      const block: ConfBlock = { name: open[1]!, arg: open[2]!.trim(), directives: new Map(), children: [] };
      top.children.push(block);
      stack.push(block);
    } else {
      const [, key, value] = /^(\S+)\s*(.*)$/.exec(line)!;
      top.directives.set(key!, value!);
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  return root;
}

/** Reverses Fluentd single-quoted string escaping (\\ and \'). */
export function unquoteFluentd(value: string): string {
  if (!value.startsWith("'") || !value.endsWith("'")) throw new Error(`not single-quoted: ${value}`);
  return value.slice(1, -1).replace(/\\([\\'])/g, "$1");
}
