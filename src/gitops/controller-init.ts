/**
 * `init --controller`: the kopiashare-controller folder next to the repository namespace's kopia folder
 * (core/render/controller.ts renders it). What this adds to rendering is reading back what the files in
 * the repo declare (the image, the policy's API band, the conventions in the ConfigMap), so that a re-run
 * with other inputs re-renders them instead of taking them for hand edits, and a re-run without the flag
 * that picked the policy's API keeps the policy.
 */
import { load } from "js-yaml";
import { type Conventions, parseConventions } from "../core/config.ts";
import { formatKubeVersion } from "../core/names.ts";
import {
  CONTROLLER_NAME,
  controllerPaths,
  renderController,
  VAP_SUPPORTED,
  vapBand,
  versionOfVapApi,
} from "../core/render/controller.ts";
import type { SourceRef } from "../core/topology.ts";
import { resolveDelivery } from "./delivery.ts";
import { lookupKubernetesVersion } from "./kube-version.ts";
import { get, type RepoScan } from "./scan.ts";

export interface ControllerPlan {
  /** Path -> content as rendered now. */
  manifests: Record<string, string>;
  /** Path -> what kopiashare would have written for the inputs the files declare (write safety). */
  expected: Record<string, string>;
  /** The entry for the namespace folder's kustomization.yaml. */
  entry: string;
  notes: string[];
}

function declared(scan: RepoScan, file: string, kind: string) {
  return scan.objects.find((o) => o.doc.file === file && o.kind === kind && o.name === CONTROLLER_NAME);
}

/** The conventions the existing ConfigMap declares over `c`; undefined when there is none or it does not parse. */
function declaredConventions(scan: RepoScan, file: string, c: Conventions): Conventions | undefined {
  const cm = declared(scan, file, "ConfigMap");
  const text = cm ? get(cm.body, "data", "kopiashare.yaml") : undefined;
  if (typeof text !== "string") return undefined;
  try {
    const parsed = parseConventions(load(text));
    return {
      ...c,
      repositoryNamespace: parsed.repositoryNamespace,
      claimName: parsed.claimName,
      pvPrefix: parsed.pvPrefix,
      claimRef: parsed.claimRef,
      mover: parsed.mover,
      mountPath: parsed.mountPath,
      repositoryDir: parsed.repositoryDir,
      uid: parsed.uid,
      gid: parsed.gid,
      capacity: parsed.capacity,
      storageClassName: parsed.storageClassName,
    };
  } catch {
    return undefined;
  }
}

/**
 * The Kubernetes version for the policy: the one init resolved (flag, kopiashare.yaml, the mover policy),
 * else what the repository states (Talos, upgrade controllers), else the band of a policy already written.
 */
function policyVersion(
  scan: RepoScan,
  c: Conventions,
  resolved: string | undefined,
  existingApi: string | undefined,
): { version: string | undefined; from: string | undefined } {
  if (resolved) return { version: resolved, from: undefined };
  const stated = lookupKubernetesVersion({ config: undefined, scan, model: resolveDelivery(scan, c) }).stated;
  if (stated) return { version: formatKubeVersion(stated.version), from: stated.source };
  const back = existingApi ? versionOfVapApi(existingApi) : undefined;
  return { version: back, from: back ? "kept" : undefined };
}

export function planController(
  scan: RepoScan,
  c: Conventions,
  o: { nsDir: string; source: SourceRef; image: string; kubernetesVersion: string | undefined },
): ControllerPlan {
  const p = controllerPaths(o.nsDir);
  const notes: string[] = [];
  const existingVap = declared(scan, p.vap, "ValidatingAdmissionPolicy");
  const { version, from } = policyVersion(scan, c, o.kubernetesVersion, existingVap?.apiVersion);
  const manifests = renderController({
    conventions: c,
    source: o.source,
    nsDir: o.nsDir,
    image: o.image,
    kubernetesVersion: version,
  });
  const band = version ? vapBand(version) : undefined;
  if (version === undefined) {
    notes.push(
      `no ValidatingAdmissionPolicy written for the controller: the Kubernetes version is unknown; to add it, run \`kopiashare init --controller --kubernetes-version 1.NN\` (or set kubernetesVersion in kopiashare.yaml); needs ${VAP_SUPPORTED}`,
    );
  } else if (!band) {
    notes.push(
      `no ValidatingAdmissionPolicy written for the controller: Kubernetes ${version} serves no ValidatingAdmissionPolicy API (needs ${VAP_SUPPORTED}); the controller is limited by its RBAC alone`,
    );
  } else {
    if (from === "kept") {
      notes.push(
        `the controller's ValidatingAdmissionPolicy stays ${band.api}, as the repo has it: no Kubernetes version is stated (pass --kubernetes-version 1.NN to change it)`,
      );
    } else if (from) {
      notes.push(
        `the controller's ValidatingAdmissionPolicy is ${band.api} for Kubernetes ${version} (read from ${from})`,
      );
    }
    if (band.api === "v1beta1") {
      notes.push(
        `Kubernetes ${version} serves ValidatingAdmissionPolicy v1beta1 only with the feature gate ValidatingAdmissionPolicy and --runtime-config=admissionregistration.k8s.io/v1beta1=true`,
      );
    }
  }
  // What kopiashare would have written for the inputs the files declare now.
  const previous = declaredConventions(scan, p.configMap, c) ?? c;
  const image = get(
    declared(scan, p.deployment, "Deployment")?.body,
    "spec",
    "template",
    "spec",
    "containers",
    0,
    "image",
  );
  const previousVersion = existingVap ? versionOfVapApi(existingVap.apiVersion) : version;
  const rendered = renderController({
    conventions: previous,
    source: o.source,
    nsDir: o.nsDir,
    image: typeof image === "string" ? image : o.image,
    kubernetesVersion: existingVap || !scan.texts.has(p.kustomization) ? previousVersion : undefined,
  });
  const expected: Record<string, string> = {};
  for (const path of Object.keys(manifests)) expected[path] = rendered[path] ?? (manifests[path] as string);
  return { manifests, expected, entry: `./${p.dir.slice(o.nsDir.length + 1)}/ks.yaml`, notes };
}
