// The kubeconfig handed to clients: one cluster, one token user, context "sim".

export interface KubeconfigInput {
  server: string;
  token: string;
  caPem?: string;
}

export function kubeconfigYaml(k: KubeconfigInput): string {
  const cluster = k.caPem
    ? `    certificate-authority-data: ${Buffer.from(k.caPem).toString("base64")}`
    : "    insecure-skip-tls-verify: true";
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: sim",
    "  cluster:",
    `    server: ${k.server}`,
    cluster,
    "users:",
    "- name: sim",
    "  user:",
    `    token: ${k.token}`,
    "contexts:",
    "- name: sim",
    "  context:",
    "    cluster: sim",
    "    user: sim",
    "    namespace: default",
    "current-context: sim",
    "preferences: {}",
    "",
  ].join("\n");
}
