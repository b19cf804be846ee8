/** One maintenance object for the whole repository: Volsync's KopiaMaintenance, or Kopiur's Maintenance. */
import type { Conventions, Mover } from "../config.ts";
import { schemaLine } from "../yaml-text.ts";
import { CENTRAL_SECRET, CLUSTER_REPOSITORY_NAME, KOPIUR_API, moverVolumesLines } from "./wiring.ts";

export const MAINTENANCE_SCHEDULE = "0 3 * * *";

export function maintenanceFile(mover: Mover): string {
  return mover === "kopiur" ? "maintenance.yaml" : "kopiamaintenance.yaml";
}

export function renderMaintenance(c: Conventions, mover: Mover): string {
  if (mover === "kopiur") {
    return [
      "---",
      "# Kopiur's maintenance for the shared repository (quick every 6 hours, full daily).",
      schemaLine("https://kubernetes-schemas.pages.dev/kopiur.home-operations.com/maintenance_v1alpha1.json"),
      `apiVersion: ${KOPIUR_API}`,
      "kind: Maintenance",
      "metadata:",
      "  name: kopia",
      "spec:",
      "  repository:",
      "    kind: ClusterRepository",
      `    name: ${CLUSTER_REPOSITORY_NAME}`,
      "  schedule:",
      "    quick:",
      '      cron: "0 */6 * * *"',
      "    full:",
      `      cron: "${MAINTENANCE_SCHEDULE}"`,
      "",
    ].join("\n");
  }
  const lines = [
    "---",
    schemaLine("https://kubernetes-schemas.pages.dev/volsync.backube/kopiamaintenance_v1alpha1.json"),
    "apiVersion: volsync.backube/v1alpha1",
    "kind: KopiaMaintenance",
    "metadata:",
    "  name: kopia",
    "spec:",
    "  repository:",
    `    repository: ${CENTRAL_SECRET}`,
    "  trigger:",
    `    schedule: "${MAINTENANCE_SCHEDULE}"`,
    "  podSecurityContext:",
    `    runAsUser: ${c.uid}`,
    `    runAsGroup: ${c.gid}`,
    `    fsGroup: ${c.gid}`,
    "    fsGroupChangePolicy: OnRootMismatch",
  ];
  if (mover === "volsync-0.17") lines.push(...moverVolumesLines(c, "  "));
  lines.push("");
  return lines.join("\n");
}
