/**
 * The Kubernetes manifests of deploy/k8s, checked without a cluster:
 *
 * - schema: every document is validated with the validators `kubernetes-models` (and
 *   `@kubernetes-models/prometheus-operator` for the ServiceMonitor) compile from the Kubernetes OpenAPI
 *   schemas (types, required fields, formats), and type-checked against the same packages' TypeScript types
 *   with `satisfies`, which refuses unknown fields (a kubeconform `-strict` of sorts, offline);
 * - consistency: selectors match the pod template's labels, serviceName is the headless Service, Service
 *   targetPorts name container ports, probes hit real health routes on the HTTP port, every `ENGINE_*` name is
 *   a setting and each pod's resolved environment is a valid cluster member (`loadConfig`), every secret key
 *   referenced exists, the ServiceMonitor's token is one the nodes accept for /metrics, the grace period covers
 *   preStop and the leave, and the dashboard ConfigMap is docs/ops' file byte for byte.
 */
import { parseAllDocuments } from "npm:yaml@2.9.1";
import { ConfigMap } from "npm:kubernetes-models@5.1.0/v1/ConfigMap";
import { Secret } from "npm:kubernetes-models@5.1.0/v1/Secret";
import { Service } from "npm:kubernetes-models@5.1.0/v1/Service";
import { StatefulSet } from "npm:kubernetes-models@5.1.0/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "npm:kubernetes-models@5.1.0/policy/v1/PodDisruptionBudget";
import { ServiceMonitor } from "npm:@kubernetes-models/prometheus-operator@6.0.0/monitoring.coreos.com/v1/ServiceMonitor";
import { CONFIGMAP_PATH, DASHBOARD_KEY, DASHBOARD_PATH, dashboardConfigMap } from "./dashboard_configmap.ts";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { configFromEnv, dockerImage, isNodeVariable, readRepo, REPO } from "../testing/deploy.ts";
import { type HealthDeps, healthRoutes } from "../server/http/routes/health.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** One YAML document of a manifest file. */
interface Manifest {
  file: string;
  doc: Json;
}

const DIR = "deploy/k8s/";

/** The leave's longest wait (`RunningNode.leave`'s default timeout), s. */
const LEAVE_TIMEOUT_S = 10;

/** Each kind's validator and its TypeScript type, by `apiVersion/kind`. */
const MODELS: Record<string, { validate: (doc: Json) => void; type: string; from: string }> = {
  "v1/Secret": {
    validate: (d) => new Secret(d).validate(),
    type: "ISecret",
    from: "kubernetes-models@5.1.0/v1/Secret",
  },
  "v1/Service": {
    validate: (d) => new Service(d).validate(),
    type: "IService",
    from: "kubernetes-models@5.1.0/v1/Service",
  },
  "v1/ConfigMap": {
    validate: (d) => new ConfigMap(d).validate(),
    type: "IConfigMap",
    from: "kubernetes-models@5.1.0/v1/ConfigMap",
  },
  "apps/v1/StatefulSet": {
    validate: (d) => new StatefulSet(d).validate(),
    type: "IStatefulSet",
    from: "kubernetes-models@5.1.0/apps/v1/StatefulSet",
  },
  "policy/v1/PodDisruptionBudget": {
    validate: (d) => new PodDisruptionBudget(d).validate(),
    type: "IPodDisruptionBudget",
    from: "kubernetes-models@5.1.0/policy/v1/PodDisruptionBudget",
  },
  "monitoring.coreos.com/v1/ServiceMonitor": {
    validate: (d) => new ServiceMonitor(d).validate(),
    type: "IServiceMonitor",
    from: "@kubernetes-models/prometheus-operator@6.0.0/monitoring.coreos.com/v1/ServiceMonitor",
  },
};

/** The files kustomization.yaml lists, and every document in them. */
function manifests(): { kustomization: Json; files: string[]; docs: Manifest[] } {
  const [kustomization] = parseAllDocuments(readRepo(`${DIR}kustomization.yaml`)).map((d) => d.toJS());
  const docs: Manifest[] = [];
  for (const file of kustomization.resources as string[]) {
    for (const d of parseAllDocuments(readRepo(DIR + file))) {
      assertEquals(d.errors, [], `${file}: YAML errors`);
      const doc = d.toJS();
      if (doc !== null) docs.push({ file, doc });
    }
  }
  return { kustomization, files: kustomization.resources, docs };
}

/** The one document of a kind (and name, if given). */
function one(docs: readonly Manifest[], kind: string, name?: string): Json {
  const found = docs.filter((m) =>
    m.doc.kind === kind && (name === undefined || m.doc.metadata.name === name)
  );
  assertEquals(found.length, 1, `one ${kind}${name ? ` ${name}` : ""}`);
  return found[0].doc;
}

/** Whether every label of `selector` is on `labels`. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Whether `path` is a GET route of the node's health sub-app (with /metrics). */
function isHealthRoute(path: string): boolean {
  const app = healthRoutes({ metrics: () => Promise.resolve({ contentType: "", text: "" }) } as HealthDeps);
  try {
    app.match("GET", new URL(path, "http://node"));
    return true;
  } catch {
    return false;
  }
}

/** A Kubernetes memory quantity in bytes (`320Mi`, `1Gi`). */
function bytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(q);
  assert(m, `a memory quantity: ${q}`);
  const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] ? units[m[2]] : 1);
}

/**
 * Pod `ordinal`'s environment as the kubelet makes it: downward API fields (the pod's name; a documentation
 * address, 192.0.2.x, for its IP), secret keys (from the Secret manifest, each required to exist), then
 * `$(VAR)` references to earlier variables.
 */
function podEnv(sts: Json, container: Json, secrets: Json[], ordinal: number): Record<string, string> {
  const env: Record<string, string> = {};
  const fields: Record<string, string> = {
    "metadata.name": `${sts.metadata.name}-${ordinal}`,
    "status.podIP": `192.0.2.${10 + ordinal}`,
  };
  for (const e of container.env as Json[]) {
    let value: string;
    if (e.valueFrom?.fieldRef) {
      value = fields[e.valueFrom.fieldRef.fieldPath];
      assert(value !== undefined, `${e.name}: unknown field ${e.valueFrom.fieldRef.fieldPath}`);
    } else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const secret = secrets.find((s) => s.metadata.name === name);
      assert(secret, `${e.name}: no Secret ${name}`);
      value = secret.stringData?.[key] ?? (secret.data?.[key] && atob(secret.data[key]));
      assert(typeof value === "string", `${e.name}: Secret ${name} has no key ${key}`);
    } else {
      value = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, v) => env[v] ?? whole);
      assert(!/\$\(/.test(value), `${e.name}: a reference to a variable not defined before it: ${e.value}`);
    }
    env[e.name] = value;
  }
  return env;
}

Deno.test("k8s: kustomization lists every manifest; each document is valid for its kind's schema", () => {
  const { kustomization, files, docs } = manifests();
  assertEquals(kustomization.kind, "Kustomization");
  const present = [...Deno.readDirSync(new URL(DIR, REPO))].map((e) => e.name)
    .filter((n) => n.endsWith(".yaml") && n !== "kustomization.yaml");
  assertEquals([...files].sort(), present.sort(), "kustomization.yaml lists every manifest");
  const kinds = new Set(docs.map((m) => m.doc.kind));
  for (
    const k of ["StatefulSet", "Service", "PodDisruptionBudget", "Secret", "ServiceMonitor", "ConfigMap"]
  ) {
    assert(kinds.has(k), `a ${k}`);
  }
  for (const { file, doc } of docs) {
    assert(doc.apiVersion && doc.kind && doc.metadata?.name, `${file}: apiVersion, kind, metadata.name`);
    const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert(model, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
    model.validate(doc);
  }
  // The validators can fail: a port as text, a container without a name.
  const sts = structuredClone(one(docs, "StatefulSet"));
  sts.spec.template.spec.containers[0].ports[0].containerPort = "http";
  assertThrows(() => MODELS["apps/v1/StatefulSet"].validate(sts), /containerPort must be integer/);
});

Deno.test("k8s: no unknown fields (the manifests type-check against the Kubernetes types)", async () => {
  const { docs } = manifests();
  const check = async (list: readonly Manifest[]) => {
    const used = [...new Set(list.map((m) => `${m.doc.apiVersion}/${m.doc.kind}`))];
    const lines = used.map((k) => `import type { ${MODELS[k].type} } from "npm:${MODELS[k].from}";`);
    list.forEach((m, i) => {
      const type = MODELS[`${m.doc.apiVersion}/${m.doc.kind}`].type;
      lines.push(`// ${m.file}`, `export const m${i} = (${JSON.stringify(m.doc)}) satisfies ${type};`);
    });
    const dir = await Deno.makeTempDir({ prefix: "flowmesh-k8s-" });
    try {
      await Deno.writeTextFile(`${dir}/manifests.ts`, lines.join("\n") + "\n");
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "check",
          "--quiet",
          "--frozen",
          "--config",
          new URL("deno.json", REPO).pathname,
          "manifests.ts",
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      return { ok: out.success, text: new TextDecoder().decode(out.stderr) };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
  const result = await check(docs);
  assert(result.ok, result.text);
  // The check can fail: a misspelt field is refused.
  const sts = structuredClone(docs.find((m) => m.doc.kind === "StatefulSet")!);
  sts.doc.spec.template.spec.terminationGracePeriodSecond = 30;
  const bad = await check([sts]);
  assert(!bad.ok && /terminationGracePeriodSecond/.test(bad.text), bad.text);
});

Deno.test("k8s: the StatefulSet, its Services and the PDB select the same pods and ports", () => {
  const { docs } = manifests();
  const sts = one(docs, "StatefulSet");
  const labels = sts.spec.template.metadata.labels;
  assert(selects(sts.spec.selector.matchLabels, labels), "the selector matches the template's labels");
  const services = docs.filter((m) => m.doc.kind === "Service").map((m) => m.doc);
  const headless = services.filter((s) => s.spec.clusterIP === "None");
  assertEquals(
    headless.map((s) => s.metadata.name),
    [sts.spec.serviceName],
    "serviceName: the headless Service",
  );
  assert(headless[0].spec.publishNotReadyAddresses, "members reach each other before they are ready");
  const [container] = sts.spec.template.spec.containers;
  const image = dockerImage();
  for (const s of services) {
    assert(selects(s.spec.selector, labels), `Service ${s.metadata.name} selects the members`);
    for (const p of s.spec.ports) {
      const target = container.ports.find((c: Json) =>
        typeof p.targetPort === "string"
          ? c.name === p.targetPort
          : c.containerPort === (p.targetPort ?? p.port)
      );
      assert(
        target,
        `Service ${s.metadata.name} port ${p.name}: targetPort ${p.targetPort} is a container port`,
      );
      assert(image.expose.includes(target.containerPort), `the image EXPOSEs ${target.containerPort}`);
    }
  }
  const pdb = one(docs, "PodDisruptionBudget");
  assertEquals(pdb.spec.maxUnavailable, 1);
  assert(selects(pdb.spec.selector.matchLabels, labels), "the PDB covers the members");
  // A Secret, non-root, probes, grace.
  const pod = sts.spec.template.spec;
  assert(pod.securityContext.runAsNonRoot === true && pod.securityContext.runAsUser > 0, "non-root");
  assertEquals(container.securityContext.allowPrivilegeEscalation, false);
  const { requests, limits } = container.resources;
  assert(requests.cpu && requests.memory, "requests sized from the benchmarks");
  assert(
    bytes(requests.memory) >= bytes("306Mi"),
    "memory request ≥ the benchmarks' loaded peak RSS (306 MiB)",
  );
  assert(bytes(limits.memory) >= bytes(requests.memory), "limit ≥ request");
});

Deno.test("k8s: probes hit the health routes on the HTTP port; preStop and the grace period cover the leave", () => {
  const { docs } = manifests();
  const sts = one(docs, "StatefulSet");
  const pod = sts.spec.template.spec;
  const [container] = pod.containers;
  const http = container.ports.find((p: Json) => p.name === "http");
  assertEquals(container.readinessProbe.httpGet.path, "/health/ready");
  assertEquals(container.livenessProbe.httpGet.path, "/health/live");
  for (const kind of ["readinessProbe", "livenessProbe", "startupProbe"]) {
    const probe = container[kind].httpGet;
    assert(isHealthRoute(probe.path), `${kind} ${probe.path} is a route of server/http/routes/health.ts`);
    assert(probe.port === http.name || probe.port === http.containerPort, `${kind} on the HTTP port`);
  }
  assert(!isHealthRoute("/healthz"), "the route check can fail");
  const preStop = container.lifecycle.preStop.exec.command;
  assertEquals(preStop[0], "sleep");
  const sleepS = Number(preStop[1]);
  assert(sleepS > 0, "preStop waits for the endpoints to drop the pod");
  assert(
    pod.terminationGracePeriodSeconds >= sleepS + LEAVE_TIMEOUT_S + 5,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${sleepS} s + leave 10 s + 5 s`,
  );
});

Deno.test("k8s: every pod's environment is a valid cluster member; secret keys exist; the scrape token works", () => {
  const { docs } = manifests();
  const sts = one(docs, "StatefulSet");
  const [container] = sts.spec.template.spec.containers;
  const secrets = docs.filter((m) => m.doc.kind === "Secret").map((m) => m.doc);
  const headless = one(docs, "Service", sts.spec.serviceName);
  const byName = (n: string) => container.ports.find((p: Json) => p.name === n).containerPort;
  for (const e of container.env as Json[]) {
    if (e.name.startsWith("ENGINE_")) assert(isNodeVariable(e.name), `${e.name} is no setting`);
  }
  const image = dockerImage();
  const pods = Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}`);
  for (let i = 0; i < sts.spec.replicas; i++) {
    const config = configFromEnv({ ...image.env, ...podEnv(sts, container, secrets, i) });
    assertEquals(config.nodeId, pods[i], "the node id is the pod's name");
    assertEquals(config.host, `192.0.2.${10 + i}`, "listens on (and advertises) the pod's IP");
    assertEquals(config.port, byName("http"));
    assertEquals(config.clusterPort, byName("cluster"));
    assertEquals(config.seeds, pods.map((p) => `${p}.${headless.metadata.name}:${config.clusterPort}`));
    assert(config.databaseUrl?.startsWith("postgres://") && config.clusterSecret, "database and secret");
    // The ServiceMonitor's bearer token is a token of these nodes with at least the viewer role.
    const monitor = one(docs, "ServiceMonitor");
    const { name, key } = monitor.spec.endpoints[0].authorization.credentials;
    const token = secrets.find((s) => s.metadata.name === name)?.stringData?.[key];
    assert(token, `ServiceMonitor: Secret ${name} has ${key}`);
    assert(config.apiTokens.some((t) => t.token === token), "the scrape token is one of the node's tokens");
    assert(config.apiTokens.some((t) => t.role === "admin"), "an admin token");
  }
});

Deno.test("k8s: the ServiceMonitor scrapes /metrics on the HTTP Service; the job is the alerts' one", () => {
  const { docs } = manifests();
  const monitor = one(docs, "ServiceMonitor");
  const services = docs.filter((m) => m.doc.kind === "Service").map((m) => m.doc);
  const scraped = services.filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels));
  assertEquals(scraped.length, 1, "the ServiceMonitor selects one Service");
  const [endpoint] = monitor.spec.endpoints;
  assert(
    scraped[0].spec.ports.some((p: Json) => p.name === endpoint.port),
    `the Service has port ${endpoint.port}`,
  );
  assertEquals(scraped[0].spec.ports.find((p: Json) => p.name === endpoint.port).targetPort, "http");
  assertEquals(endpoint.path, "/metrics");
  assert(isHealthRoute(endpoint.path), "/metrics is a route of the node");
  // Without a jobLabel the job is the Service's name: docs/ops/alerts.yml's `job="flowmesh"`.
  assertEquals(monitor.spec.jobLabel, undefined);
  assert(readRepo("docs/ops/alerts.yml").includes(`job="${scraped[0].metadata.name}"`), "alerts' job");
});

Deno.test("k8s: the dashboard ConfigMap is docs/ops' dashboard, byte for byte", () => {
  const { docs } = manifests();
  const json = readRepo(DASHBOARD_PATH);
  assertEquals(
    readRepo(CONFIGMAP_PATH),
    dashboardConfigMap(json),
    `${CONFIGMAP_PATH} is stale: run deno run --allow-read --allow-write deploy/dashboard_configmap.ts`,
  );
  const cm = one(docs, "ConfigMap");
  assertEquals(cm.data[DASHBOARD_KEY], json);
  assertEquals(cm.metadata.labels.grafana_dashboard, "1");
  JSON.parse(cm.data[DASHBOARD_KEY]);
});
