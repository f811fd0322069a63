/**
 * Summarizes a V8 CPU profile (`.cpuprofile`, as `deno run --cpu-prof` or
 * `bench:load --profile-server <dir>` writes them): self time per function, and
 * per area (the repository's folders, each npm package, Deno's runtime, garbage
 * collection, native code V8 does not attribute), as shares of the busy time
 * (idle excluded).
 *
 *   deno run -A bench/profile_summary.ts <file.cpuprofile> [--top 25]
 *
 * @module
 */

/** A V8 CPU profile: the call tree's nodes, and which node each sample hit, with the time between samples. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's (or area's) self time. */
export interface SelfTime {
  name: string;
  /** Where: the file (repository-relative, `npm:<package>`, or Deno's `ext:` module) and line. */
  where: string;
  ms: number;
  /** Share of the busy time, percent. */
  percent: number;
}

/** A summary: wall time sampled, busy time, and self time by function and by area. */
export interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  functions: SelfTime[];
  areas: SelfTime[];
}

/** The repository's URL (`file:///…/`), which script URLs in a profile of its code start with. */
const REPO = new URL("..", import.meta.url).href;

/** A script URL as a short place: repository-relative, `npm:<package>`, Deno's `ext:` module, or as is. */
function placeOf(url: string): string {
  const npm = /registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith(REPO)) return url.slice(REPO.length);
  return url;
}

/** The area a function belongs to: its repository folder, npm package, Deno's runtime or a V8 pseudo-node. */
function areaOf(name: string, url: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  const place = placeOf(url);
  if (place.startsWith("npm:")) return place;
  if (place.startsWith("ext:") || place.startsWith("node:")) return `deno runtime (${place.split("/")[0]})`;
  if (place.startsWith("file:")) return "(other files)";
  return place.includes("/") ? `${place.split("/")[0]}/` : place;
}

/**
 * Self time per function and per area of `profile`, largest first (the `top` largest functions).
 *
 * @example
 * ```ts
 * import { summarize } from "./profile_summary.ts";
 * const s = summarize({
 *   nodes: [
 *     { id: 1, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
 *     { id: 2, callFrame: { functionName: "decide", url: new URL("../core/decide.ts", import.meta.url).href, lineNumber: 9 } },
 *     { id: 3, callFrame: { functionName: "(garbage collector)", url: "", lineNumber: -1 } },
 *   ],
 *   samples: [1, 2, 2, 3, 2],
 *   timeDeltas: [0, 100, 100, 100, 100],
 * }, 10);
 * if (s.busyMs !== 0.4 || s.functions[0].name !== "decide" || s.functions[0].percent !== 75) throw new Error();
 * if (s.areas[0].name !== "core/" || s.functions[0].where !== "core/decide.ts:10") throw new Error();
 * ```
 */
export function summarize(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const area = new Map<string, number>();
  let total = 0, idle = 0;
  profile.samples.forEach((id, i) => {
    // The time until the next sample is this sample's (the last one gets the mean interval).
    const us = profile.timeDeltas[i + 1] ?? total / Math.max(1, i);
    total += us;
    const f = byId.get(id)!;
    if (f.functionName === "(idle)") return void (idle += us);
    const where = f.url === "" ? "" : `${placeOf(f.url)}:${f.lineNumber + 1}`;
    const key = `${f.functionName}@${where}`;
    const entry = fn.get(key) ?? { name: f.functionName || "(anonymous)", where, us: 0 };
    entry.us += us;
    fn.set(key, entry);
    const a = areaOf(f.functionName, f.url);
    area.set(a, (area.get(a) ?? 0) + us);
  });
  const busy = total - idle;
  const share = (us: number) => +((us / Math.max(1, busy)) * 100).toFixed(1);
  const ms = (us: number) => +(us / 1000).toFixed(1);
  return {
    totalMs: ms(total),
    busyMs: ms(busy),
    functions: [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, ms: ms(e.us), percent: share(e.us) })),
    areas: [...area.entries()].sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, where: "", ms: ms(us), percent: share(us) })),
  };
}

if (import.meta.main) {
  const file = Deno.args.find((a) => !a.startsWith("--"));
  if (!file) throw new Error("usage: profile_summary.ts <file.cpuprofile> [--top N]");
  const i = Deno.args.indexOf("--top");
  const s = summarize(JSON.parse(await Deno.readTextFile(file)), i >= 0 ? Number(Deno.args[i + 1]) : 25);
  console.log(
    `sampled ${s.totalMs} ms, busy ${s.busyMs} ms (${((s.busyMs / s.totalMs) * 100).toFixed(1)} %)`,
  );
  console.log("\nself time by area (% of busy):");
  for (const a of s.areas) console.log(`${a.percent.toFixed(1).padStart(6)} %  ${a.name}`);
  console.log("\nself time by function (% of busy):");
  for (const f of s.functions) console.log(`${f.percent.toFixed(1).padStart(6)} %  ${f.name}  ${f.where}`);
}
