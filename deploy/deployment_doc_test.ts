/**
 * docs/DEPLOYMENT.md's single-node and VM-cluster sections, followed as written: their shell blocks run with
 * bash, with loopback addresses, free ports, a temporary data directory and a fresh database in place of the
 * VMs' (the only substitutions), and the README's walk-through runs against what they started.
 */
import postgres from "npm:postgres@3.4.9";
import { assert, assertEquals } from "../testing/assert.ts";
import { freePort } from "../testing/net.ts";
import { pgTest, TEST_DATABASE_URL } from "../testing/pg.ts";
import { readmeWalkthrough } from "../testing/readme.ts";

const ROOT = new URL("../", import.meta.url);

/** Deno's cache, kept when a test gives a script its own HOME (else every npm package would download again). */
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  JSON.parse(new TextDecoder().decode(
    new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).outputSync().stdout,
  )).denoDir as string;

/** The environment of a script run as a user whose home is `home`. */
function userEnv(home: string, more: Record<string, string> = {}): Record<string, string> {
  return { HOME: home, PATH: Deno.env.get("PATH")!, DENO_DIR, ...more };
}
const REPO = ROOT.pathname.replace(/\/$/, "");

/** The ```sh blocks of a section (from its heading to the next `## `). */
function sectionBlocks(markdown: string, heading: string): string[] {
  const from = markdown.indexOf(`\n${heading}\n`);
  assert(from >= 0, `no section ${heading}`);
  const rest = markdown.slice(from + heading.length + 2);
  const section = rest.slice(0, rest.search(/\n## /) >>> 0);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** The README's curl walk-through. */
async function walkthrough(): Promise<string> {
  return readmeWalkthrough(await Deno.readTextFile(new URL("README.md", ROOT)));
}

/** A bash script in its own process group (so `deno task`'s child goes with it). */
function spawnScript(script: string, env: Record<string, string>, cwd = REPO): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: ["bash", "-euo", "pipefail", "-c", script],
    cwd,
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function runScript(script: string, env: Record<string, string>, cwd = REPO): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-euo", "pipefail", "-c", script],
    cwd,
    env,
    signal: AbortSignal.timeout(90_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, `${new TextDecoder().decode(out.stderr)}\n${stdout}`);
  return stdout;
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    Deno.kill(-child.pid, "SIGTERM");
  } catch { /* gone */ }
  await child.stderr.cancel().catch(() => {});
  await child.status;
}

async function waitFor(url: string, token: string, ok: (body: string) => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      if (ok(await res.text())) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered as expected`);
}

/** Runs the README walk-through against `port` with curl reading `home`'s .curlrc (the token). */
async function runWalkthrough(port: number, home: string): Promise<void> {
  const script = (await walkthrough()).replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`);
  const stdout = await runScript(script, userEnv(home));
  assert(stdout.includes('"workflowId":"big-numbers"'), stdout);
  assert(stdout.includes("[192,194,196,198,200]"), stdout);
  assert(stdout.includes('"message":"schedule deleted"'), stdout);
}

Deno.test({
  name: "DEPLOYMENT.md: a single node, as written, answers the README walk-through",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const [start, check] = sectionBlocks(
      await Deno.readTextFile(new URL("docs/DEPLOYMENT.md", ROOT)),
      "## A single node",
    );
    const home = await Deno.makeTempDir();
    const port = freePort();
    const script = start.replace("cd flowmesh", `cd ${REPO}`).replaceAll("/var/lib/flowmesh", `${home}/data`)
      .replace(/^deno task serve (.*)$/m, `echo "$ADMIN_TOKEN" > ${home}/token\ndeno task serve $1`);
    const env = userEnv(home, { ENGINE_HTTP_PORT: String(port) });
    const node = spawnScript(script, env);
    try {
      await waitFor(`http://127.0.0.1:${port}/health/ready`, "", (b) => b.includes('"ready"'));
      const token = (await Deno.readTextFile(`${home}/token`)).trim();
      const health = await runScript(check.replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`), {
        ...env,
        ADMIN_TOKEN: token,
      });
      assertEquals(JSON.parse(health).status, "ready");
      const denied = await fetch(`http://127.0.0.1:${port}/api/v1/workflows`);
      assertEquals(denied.status, 401, "prod: tokens are required");
      await denied.body?.cancel();
      await runWalkthrough(port, home);
    } finally {
      await stop(node);
      await Deno.remove(home, { recursive: true });
    }
  },
});

pgTest("DEPLOYMENT.md: a cluster on VMs, as written, forms and answers the README walk-through", async () => {
  const doc = await Deno.readTextFile(new URL("docs/DEPLOYMENT.md", ROOT));
  const [setup, member, check] = sectionBlocks(doc, "## A cluster on VMs");
  const home = await Deno.makeTempDir();
  const database = `flowmesh_doc_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const pg = new URL(TEST_DATABASE_URL);
  const vms = [11, 12, 13].map((n) => ({ ip: `10.0.0.${n}`, http: freePort(), cluster: freePort() }));
  /** The VMs' addresses and ports as this machine's. */
  const local = (text: string) => {
    let out = text.replaceAll("-h 10.0.0.10 ", `-h ${pg.hostname} `)
      .replaceAll("10.0.0.10:5432/flowmesh", `${pg.host}/${database}`)
      .replaceAll("create database flowmesh", `create database ${database}`)
      .replaceAll("./flowmesh.env", `${home}/flowmesh.env`);
    for (const vm of vms) {
      out = out.replaceAll(`${vm.ip}:7400`, `127.0.0.1:${vm.cluster}`).replaceAll(
        `${vm.ip}:8080`,
        `127.0.0.1:${vm.http}`,
      );
    }
    return out;
  };
  const members: Deno.ChildProcess[] = [];
  try {
    await runScript(local(setup), userEnv(home), home);
    vms.forEach((vm, i) => {
      const own = local(member).replace("--node-id n1", `--node-id n${i + 1}`)
        .replace("--host 10.0.0.11", "--host 127.0.0.1")
        .replace("--cluster-port 7400", `--cluster-port ${vm.cluster}`);
      members.push(spawnScript(own, userEnv(home, { ENGINE_HTTP_PORT: String(vm.http) })));
    });
    const env = await Deno.readTextFile(`${home}/flowmesh.env`);
    const token = /ADMIN_TOKEN=(\w+)/.exec(env)![1];
    for (const vm of vms) { // every member sees the three up
      await waitFor(`http://127.0.0.1:${vm.http}/api/v1/cluster/stats`, token, (b) => {
        try {
          return JSON.parse(b).members.filter((m: { status: string }) => m.status === "up").length === 3;
        } catch {
          return false;
        }
      });
    }
    const stats = JSON.parse(await runScript(local(check), userEnv(home)));
    assertEquals(stats.nodeCount, 3);
    await runWalkthrough(vms[1].http, home);
  } finally {
    await Promise.all(members.map(stop));
    const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${database} with (force)`).catch(() => {});
    await admin.end({ timeout: 2 });
    await Deno.remove(home, { recursive: true });
  }
});
