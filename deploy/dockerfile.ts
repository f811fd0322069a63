/**
 * A small Dockerfile reader for the deployment checks (`deploy/deploy_static_test.ts`): instructions with
 * their line, continuation lines joined, comments and parser directives dropped, exec-form (JSON) arguments
 * decoded, `KEY=value` pairs of `ENV`/`ARG`/`LABEL` split, and `HEALTHCHECK`'s options and command. It reads
 * what this repository's Dockerfile uses; heredocs and `${VAR}` substitution are not supported (a heredoc is
 * refused).
 *
 * @module
 */

/** One instruction: its keyword (upper case), its arguments' raw text and its first line (1-based). */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** A command as Docker runs it: `exec` (JSON array, no shell) or `shell` (run by `/bin/sh -c`). */
export type Command = { form: "exec"; argv: string[] } | { form: "shell"; text: string };

/** A `HEALTHCHECK`: its options (`--interval=10s` → `interval: "10s"`) and command, or `NONE`. */
export type Healthcheck = { none: true } | { none: false; options: Record<string, string>; command: Command };

/**
 * Splits a Dockerfile into instructions: `\` at a line's end continues it, `#` lines are comments (and
 * directives), blank lines are skipped.
 *
 * @example
 * ```ts
 * import { parseDockerfile } from "./dockerfile.ts";
 * const ins = parseDockerfile("# syntax=docker/dockerfile:1\nFROM debian:12\nRUN a \\\n  && b\n");
 * if (ins.length !== 2 || ins[1].keyword !== "RUN" || ins[1].args !== "a && b" || ins[1].line !== 3) {
 *   throw new Error(JSON.stringify(ins));
 * }
 * ```
 */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let pending: { parts: string[]; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed.startsWith("#")) continue; // comments stay comments inside a continued instruction too
    if (trimmed === "" && !pending) continue;
    const continues = /\\\s*$/.test(raw);
    const part = continues ? raw.replace(/\\\s*$/, "") : raw;
    if (!pending) pending = { parts: [], line: i + 1 };
    pending.parts.push(part.trim());
    if (continues) continue;
    const joined = pending.parts.filter((p) => p !== "").join(" ");
    const m = /^([A-Za-z]+)\s*(.*)$/s.exec(joined);
    if (!m) throw new Error(`Dockerfile line ${pending.line}: not an instruction: ${joined.slice(0, 80)}`);
    if (/<<-?["']?[A-Za-z_]/.test(m[2]) && /^(RUN|COPY|ADD)$/i.test(m[1])) {
      throw new Error(`Dockerfile line ${pending.line}: heredocs are not supported by this reader`);
    }
    out.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: pending.line });
    pending = undefined;
  }
  if (pending) throw new Error(`Dockerfile line ${pending.line}: ends inside a continued instruction`);
  return out;
}

/**
 * An instruction's command: exec form when its text is a JSON array of strings, else shell form.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./dockerfile.ts";
 * const c = parseCommand('["deno", "run", "main.ts"]');
 * if (c.form !== "exec" || c.argv.join(" ") !== "deno run main.ts") throw new Error(JSON.stringify(c));
 * if (parseCommand("echo hi").form !== "shell") throw new Error("shell form");
 * ```
 */
export function parseCommand(args: string): Command {
  if (args.startsWith("[")) {
    try {
      const argv = JSON.parse(args);
      if (Array.isArray(argv) && argv.every((a) => typeof a === "string")) return { form: "exec", argv };
    } catch { /* not JSON: Docker runs it as a shell command */ }
  }
  return { form: "shell", text: args };
}

/**
 * The `KEY=value` pairs of an `ENV`, `ARG` or `LABEL` (values may be double- or single-quoted); the legacy
 * `ENV KEY value` form gives one pair.
 *
 * @example
 * ```ts
 * import { parsePairs } from "./dockerfile.ts";
 * const env = parsePairs('A=1 B="two words" C=');
 * if (env.A !== "1" || env.B !== "two words" || env.C !== "") throw new Error(JSON.stringify(env));
 * if (parsePairs("PATH /usr/bin").PATH !== "/usr/bin") throw new Error("legacy form");
 * ```
 */
export function parsePairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!/^[^\s=]+=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/s.exec(args);
    if (m) out[m[1]] = m[2];
    return out;
  }
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of args.matchAll(re)) {
    const v = m[2];
    out[m[1]] = v.startsWith('"')
      ? v.slice(1, -1).replace(/\\(.)/g, "$1")
      : v.startsWith("'")
      ? v.slice(1, -1)
      : v;
  }
  return out;
}

/**
 * A `HEALTHCHECK`'s options and command.
 *
 * @example
 * ```ts
 * import { parseHealthcheck } from "./dockerfile.ts";
 * const h = parseHealthcheck('--interval=10s --retries=3 CMD ["deno", "run", "probe.ts"]');
 * if (h.none || h.options.interval !== "10s" || h.command.form !== "exec") throw new Error(JSON.stringify(h));
 * ```
 */
export function parseHealthcheck(args: string): Healthcheck {
  if (/^NONE$/i.test(args.trim())) return { none: true };
  const options: Record<string, string> = {};
  let rest = args.trim();
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    options[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  const cmd = /^CMD\s+(.*)$/is.exec(rest);
  if (!cmd) throw new Error(`HEALTHCHECK: expected CMD after the options, got ${rest.slice(0, 40)}`);
  return { none: false, options, command: parseCommand(cmd[1].trim()) };
}

/** The instructions of the last build stage (from its `FROM` on). */
export function lastStage(instructions: readonly Instruction[]): Instruction[] {
  const from = instructions.map((i) => i.keyword).lastIndexOf("FROM");
  return from < 0 ? [...instructions] : instructions.slice(from);
}

/** What the last stage of a Dockerfile declares. */
export interface ImageSpec {
  /** The base image of the last stage. */
  from: string;
  /** The user the container runs as (the last `USER`), undefined: root. */
  user: string | undefined;
  /** Every `ENV` of the last stage, later ones winning. */
  env: Record<string, string>;
  /** The `EXPOSE`d ports (protocols dropped). */
  expose: number[];
  entrypoint: Command | undefined;
  cmd: Command | undefined;
  healthcheck: Healthcheck | undefined;
  stopSignal: string | undefined;
  /** The last stage's instructions, in order. */
  instructions: Instruction[];
}

/**
 * The last stage's declarations.
 *
 * @example
 * ```ts
 * import { imageSpec } from "./dockerfile.ts";
 * const spec = imageSpec('FROM x:1\nENV A=1\nUSER app\nEXPOSE 80 443/tcp\nENTRYPOINT ["run"]\n');
 * if (spec.user !== "app" || spec.expose.join() !== "80,443" || spec.env.A !== "1") throw new Error();
 * ```
 */
export function imageSpec(text: string): ImageSpec {
  const instructions = lastStage(parseDockerfile(text));
  const spec: ImageSpec = {
    from: "",
    user: undefined,
    env: {},
    expose: [],
    entrypoint: undefined,
    cmd: undefined,
    healthcheck: undefined,
    stopSignal: undefined,
    instructions,
  };
  for (const i of instructions) {
    if (i.keyword === "FROM") spec.from = i.args.split(/\s+/)[0];
    else if (i.keyword === "USER") spec.user = i.args;
    else if (i.keyword === "ENV") Object.assign(spec.env, parsePairs(i.args));
    else if (i.keyword === "EXPOSE") {
      spec.expose.push(...i.args.split(/\s+/).map((p) => Number(p.split("/")[0])));
    } else if (i.keyword === "ENTRYPOINT") spec.entrypoint = parseCommand(i.args);
    else if (i.keyword === "CMD") spec.cmd = parseCommand(i.args);
    else if (i.keyword === "HEALTHCHECK") spec.healthcheck = parseHealthcheck(i.args);
    else if (i.keyword === "STOPSIGNAL") spec.stopSignal = i.args;
  }
  return spec;
}
