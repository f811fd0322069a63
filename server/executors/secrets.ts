/**
 * Secrets: the values `{"$secret": "NAME"}` references in node configs stand for. A {@link SecretSource}
 * is read once, when a node starts, from `ENGINE_SECRET_<NAME>` variables and the secrets file
 * (`--secrets-file`, a JSON object `{"NAME": "value"}`; a variable wins over the file). Right before a
 * node's executor runs, {@link NodeSecrets} resolves its config's references and makes the
 * {@link Scrubber} of that attempt: the secret values it used and the inline credentials of its config
 * (`credentials.ts`) become `***` in its error message, its log lines and its output records, and so do
 * the normalised forms of those that are http(s) URLs (what the http node's errors print of its `url`). No
 * value is ever put in an error of this module.
 *
 * @module
 */
import { isSecretRef, SECRET_NAME, secretNames } from "../../core/secret_ref.ts";
import { credentialValues, REDACTED } from "./credentials.ts";
import { NodeError, type NodeServices } from "./executor.ts";
import { transformJson } from "./json_transform.ts";
import { shownUrl } from "./shown_url.ts";

/** The prefix of the environment variables that hold secrets: `ENGINE_SECRET_<NAME>`. */
export const SECRET_ENV_PREFIX = "ENGINE_SECRET_";

/** The largest secrets file read: 1 MiB. */
export const MAX_SECRETS_FILE_BYTES = 1024 * 1024;

/** The longest secret value: 64 KiB of text. */
export const MAX_SECRET_LENGTH = 64 * 1024;

/** Where secret values come from: a lookup by name. */
export interface SecretSource {
  /** The value of the secret `name`, if this node has it. */
  get(name: string): string | undefined;
  /** The names this node has (never the values). */
  names(): string[];
}

/** A secrets configuration that cannot be used: its message names the variable, file or key, never a value. */
export class SecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretsError";
  }
}

/**
 * A source over fixed values, checked: names of 1 to 64 `A-Z 0-9 _`, values non-empty strings of at most
 * {@link MAX_SECRET_LENGTH} characters. `where` names the origin in errors.
 *
 * @throws {SecretsError} on the first bad name or value.
 * @example
 * ```ts
 * import { secretSource } from "./secrets.ts";
 * const secrets = secretSource({ API_TOKEN: "t0ps3cret" });
 * if (secrets.get("API_TOKEN") !== "t0ps3cret" || secrets.get("OTHER") !== undefined) throw new Error();
 * ```
 */
export function secretSource(values: Readonly<Record<string, unknown>>, where = "secrets"): SecretSource {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(values)) {
    if (!SECRET_NAME.test(name)) {
      const shown = JSON.stringify(name.length > 70 ? `${name.slice(0, 67)}...` : name);
      throw new SecretsError(`${where}: secret name ${shown} must be 1 to 64 of A-Z 0-9 _`);
    }
    if (typeof value !== "string" || value === "" || value.length > MAX_SECRET_LENGTH) {
      throw new SecretsError(
        `${where}: secret ${name} must be a non-empty string of at most ${MAX_SECRET_LENGTH} characters`,
      );
    }
    map.set(name, value);
  }
  return { get: (name) => map.get(name), names: () => [...map.keys()] };
}

/** What {@link loadSecrets} reads. */
export interface SecretsInputs {
  /** The environment: its `ENGINE_SECRET_<NAME>` variables are secrets (empty ones are ignored). */
  env: Readonly<Record<string, string>>;
  /** The secrets file, if any. */
  file?: string;
  /** Reads a file's text (default `Deno.readTextFileSync`). */
  readFile?: (path: string) => string;
}

/** The secrets file's values, checked: a JSON object of strings. */
function readSecretsFile(path: string, readFile: (path: string) => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "not found" : (err as Error)?.name ?? "unreadable";
    throw new SecretsError(`secrets file ${path}: cannot be read (${why})`);
  }
  if (text.length > MAX_SECRETS_FILE_BYTES) {
    throw new SecretsError(`secrets file ${path}: larger than ${MAX_SECRETS_FILE_BYTES} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the text around the fault: it is not repeated.
    throw new SecretsError(`secrets file ${path}: not valid JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SecretsError(`secrets file ${path}: must be a JSON object {"NAME": "value"}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * The secrets of a node: its `ENGINE_SECRET_<NAME>` variables over its secrets file's values.
 *
 * @throws {SecretsError} one line naming the file, variable or key at fault, never a value.
 * @example
 * ```ts
 * import { loadSecrets } from "./secrets.ts";
 * const secrets = loadSecrets({ env: { ENGINE_SECRET_API_TOKEN: "t0ps3cret", HOME: "/root" } });
 * if (secrets.names().join() !== "API_TOKEN") throw new Error(secrets.names().join());
 * ```
 */
export function loadSecrets(inputs: SecretsInputs): SecretSource {
  const values = new Map<string, unknown>();
  if (inputs.file !== undefined) {
    const read = inputs.readFile ?? ((path: string) => Deno.readTextFileSync(path));
    const fromFile = readSecretsFile(inputs.file, read);
    secretSource(fromFile, `secrets file ${inputs.file}`);
    for (const [name, value] of Object.entries(fromFile)) values.set(name, value);
  }
  for (const [variable, value] of Object.entries(inputs.env)) {
    if (!variable.startsWith(SECRET_ENV_PREFIX) || value === "") continue;
    const name = variable.slice(SECRET_ENV_PREFIX.length);
    secretSource({ [name]: value }, `environment ${variable}`);
    values.set(name, value);
  }
  return secretSource(Object.fromEntries(values));
}

/**
 * The shortest value scrubbed: 4 characters. A shorter one would turn every text into `***` soup and
 * protects nothing (the API still shows it as `***` where a definition holds it).
 */
export const MIN_SCRUBBED_LENGTH = 4;

/**
 * The normalised forms of a value that is an http(s) URL, as a message may print them: its `href`, its
 * origin and path with and without the query (what the http node's errors show, {@link shownUrl}), its path
 * and query, and its path alone when that holds at least {@link MIN_SCRUBBED_LENGTH} characters after the
 * `/` (a server's 404 page often echoes it). None for any other value.
 */
function urlForms(value: string): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [];
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return [];
  const shown = shownUrl(url);
  const forms = [url.href, shown, `${shown}${url.search}`, `${url.pathname}${url.search}`];
  if (url.pathname.length > MIN_SCRUBBED_LENGTH) forms.push(url.pathname);
  return forms;
}

/** Replaces known values by `***` in text and in JSON. */
export class Scrubber {
  readonly #values: string[];

  /**
   * Scrubs `values`, the normalised forms of those that are http(s) URLs (`urlForms`), and the URL-encoded,
   * URL-decoded and JSON-escaped forms of all these; those shorter than {@link MIN_SCRUBBED_LENGTH} are
   * ignored.
   */
  constructor(values: Iterable<string>) {
    const all = new Set<string>();
    for (const value of values) {
      if (value.length < MIN_SCRUBBED_LENGTH || value === REDACTED) continue;
      for (const v of [value, ...urlForms(value)]) {
        all.add(v);
        all.add(JSON.stringify(v).slice(1, -1));
        for (const form of [encodeURIComponent, decodeURIComponent]) {
          try {
            all.add(form(v));
          } catch { /* a lone surrogate, or not encoded */ }
        }
      }
    }
    for (const v of all) if (v.length < MIN_SCRUBBED_LENGTH) all.delete(v);
    // Longest first, so a value containing another is replaced whole.
    this.#values = [...all].sort((a, b) => b.length - a.length);
  }

  /** Whether there is nothing to scrub. */
  get empty(): boolean {
    return this.#values.length === 0;
  }

  /** `s` with every known value replaced by `***`. */
  text(s: string): string {
    let out = s;
    for (const v of this.#values) if (out.includes(v)) out = out.replaceAll(v, REDACTED);
    return out;
  }

  /** A copy of a JSON value with every known value replaced in its strings and keys (unchanged: itself). */
  json<T>(value: T): T {
    if (this.empty || !this.#touches(value)) return value;
    return transformJson(value, undefined, (v) => {
      if (typeof v === "string") return { value: this.text(v) };
      if (typeof v !== "object" || v === null) return { value: v };
      if (Array.isArray(v)) return { descend: () => undefined };
      const keys = Object.keys(v);
      if (keys.every((k) => this.text(k) === k)) return { descend: () => undefined };
      const renamed: Record<string, unknown> = {};
      for (const k of keys) renamed[this.text(k)] = (v as Record<string, unknown>)[k];
      return { value: this.json(renamed) };
    }) as T;
  }

  /** Whether any known value appears in the JSON text of `value` (cheaper than a rebuild when none does). */
  #touches(value: unknown): boolean {
    let text: string;
    try {
      text = JSON.stringify(value) ?? "";
    } catch {
      return true;
    }
    return this.#values.some((v) => text.includes(v));
  }
}

/** A node's config as its executor sees it, and the scrubber of what it must not show (if anything). */
export interface PreparedConfig {
  config: Record<string, unknown>;
  scrub?: Scrubber;
}

/** What a config holds that {@link NodeSecrets} cares about, computed once per config object. */
interface ConfigFacts {
  refs: boolean;
  /** The scrubber of its inline credentials, when it has any. */
  credentials: Scrubber | undefined;
}

/**
 * Resolves secret references for a runtime: one per engine, over its {@link SecretSource}. Configs are
 * the plan's (shared by every execution of a version), so what each holds is remembered per config object.
 */
export class NodeSecrets {
  readonly #facts = new WeakMap<object, ConfigFacts>();

  /** Over `source` (none: every reference fails with `secret_not_found`). */
  constructor(private readonly source: SecretSource | undefined) {}

  /**
   * The config an attempt runs with, its references replaced by their values, and the scrubber of those
   * values and of the config's inline credentials. A config without either comes back as it is.
   *
   * @throws {NodeError} `secret_not_found` (not retryable) naming a secret this node does not have.
   */
  prepare(config: Record<string, unknown>): PreparedConfig {
    let facts = this.#facts.get(config);
    if (facts === undefined) {
      const credentials = new Scrubber(credentialValues(config));
      facts = {
        refs: secretNames(config).length > 0,
        credentials: credentials.empty ? undefined : credentials,
      };
      this.#facts.set(config, facts);
    }
    if (!facts.refs) return facts.credentials ? { config, scrub: facts.credentials } : { config };
    const used: string[] = [];
    const resolved = transformJson(config, undefined, (v) => {
      if (!isSecretRef(v)) {
        return typeof v === "object" && v !== null ? { descend: () => undefined } : { value: v };
      }
      const value = this.source?.get(v.$secret);
      if (value === undefined) {
        throw new NodeError(
          "secret_not_found",
          `secret ${v.$secret} is not configured on this node (${SECRET_ENV_PREFIX}${v.$secret} or the secrets file)`,
          false,
        );
      }
      used.push(value);
      return { value };
    }) as Record<string, unknown>;
    const scrub = new Scrubber([...used, ...credentialValues(resolved)]);
    return scrub.empty ? { config: resolved } : { config: resolved, scrub };
  }
}

/**
 * `services` whose log lines (and their fields) go through `scrub` first; every other service is the
 * same.
 */
export function scrubbedServices(services: NodeServices, scrub: Scrubber): NodeServices {
  const log = (line: string, fields: Record<string, unknown>) =>
    services.log(scrub.text(line), scrub.json(fields));
  return new Proxy(services, {
    get(target, key) {
      if (key === "log") return log;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
