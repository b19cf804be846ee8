import { Command, Option } from "@commander-js/extra-typings";
import { type Ctx, version } from "../cli.ts";
import { EXIT_OK, usageError } from "../errors.ts";
import {
  checkKubeFlags,
  connectKube,
  contextOption,
  kubeconfigOption,
  liveConventions,
  requestTimeoutOption,
  withKube,
} from "./kube-common.ts";
import { kubeVersionFlag, loadRepo, repoOption } from "./shared.ts";

/** Kept here (not imported from core/graph) so that --help does not load the graph code. */
const GRAPH_FORMATS = ["text", "mermaid", "dot", "json"] as const;

export function graphCommand(ctx: Ctx) {
  return new Command("graph")
    .description(
      "draw how every consumer reaches the Kopia repository: repository → transport (pvc, nfs, object) → namespaces → consumers, with lint's errors and warnings marked",
    )
    .addOption(repoOption())
    .addOption(
      new Option("-o, --output <format>", `output format: ${GRAPH_FORMATS.join(", ")}`)
        .choices(GRAPH_FORMATS)
        .default("text" as const),
    )
    .option(
      "--kubernetes-version <1.NN>",
      "the cluster's Kubernetes minor version, for the version-dependent lint rules whose findings are marked (as for lint)",
    )
    .option(
      "--live",
      "draw what the cluster runs instead of the repository (not linted; --repo only gives kopiashare.yaml)",
    )
    .addOption(kubeconfigOption())
    .addOption(contextOption())
    .addOption(requestTimeoutOption())
    .addHelpText(
      "after",
      `
Examples:
  kopiashare graph                                 # the enclosing checkout, a tree for the terminal
  kopiashare graph --repo ~/home-ops -o mermaid    # a flowchart to paste into a GitHub comment or README
  kopiashare graph -o dot | dot -Tsvg > graph.svg  # Graphviz
  kopiashare graph -o json | jq '.repositories[].key'
  kopiashare graph --live --context prod           # from the cluster: Volsync/Kopiur objects, policies, PVs

Reads the repository as lint does (Flux Kustomizations, kustomize, postBuild substitution) and marks
the nodes lint's errors (✗) and warnings (!) are about; findings about nothing drawn are listed apart.
With --live it lists the Volsync and Kopiur objects, admission policies, PVs and PVCs, and reads only
KOPIA_REPOSITORY of the Secrets the Volsync objects name; nothing is linted.
Exit codes: 0 the graph was drawn (whatever lint found: use lint as the gate), 3 the cluster could not be
read (unreachable, a missing permission), 2 usage or input error. Never writes; without --live never
needs a network. Docs: docs/commands.md#graph`,
    )
    .action(async (opts) => {
      if (opts.live) return drawLive(ctx, opts);
      for (const flag of ["kubeconfig", "context"] as const) {
        if (opts[flag] !== undefined) throw usageError(`--${flag} is for --live`);
      }
      const [{ root, conventions, scan }, { lintScan }, { buildGraph }, { renderGraph }] = await Promise.all([
        loadRepo(ctx, opts.repo),
        import("../gitops/lint.ts"),
        import("../core/graph/build.ts"),
        import("../core/graph/render.ts"),
      ]);
      const flag = kubeVersionFlag(opts.kubernetesVersion, conventions);
      const result = lintScan(scan, conventions, flag);
      const graph = buildGraph(result.model, result.findings);
      ctx.io.stdout.write(
        renderGraph(opts.output, graph, ctx.colors("stdout"), { repo: opts.repo ?? root, version: version() }),
      );
      if (opts.output !== "text") {
        const s = graph.summary;
        ctx.say(
          `kopiashare graph: ${s.repositories} repositor${s.repositories === 1 ? "y" : "ies"}, ${s.consumers} consumer(s); lint: ${s.errors} error(s), ${s.warnings} warning(s)`,
        );
      }
      ctx.exitCode = EXIT_OK;
    });
}

interface LiveOpts {
  repo?: string;
  output: (typeof GRAPH_FORMATS)[number];
  kubernetesVersion?: string;
  kubeconfig?: string;
  context?: string;
  requestTimeout?: string;
}

async function drawLive(ctx: Ctx, opts: LiveOpts): Promise<void> {
  if (opts.kubernetesVersion !== undefined) {
    throw usageError("--kubernetes-version is for lint's version rules: with --live nothing is linted");
  }
  checkKubeFlags(opts);
  const conventions = liveConventions(ctx, opts.repo);
  await withKube(async () => {
    const kube = await connectKube(ctx, opts);
    const [{ readGraphObjects }, { modelFromObjects }, { buildGraph }, { renderGraph }] = await Promise.all([
      import("../kube/graph-objects.ts"),
      import("../core/live-model.ts"),
      import("../core/graph/build.ts"),
      import("../core/graph/render.ts"),
    ]);
    const read = await readGraphObjects(kube, conventions);
    const graph = buildGraph(modelFromObjects(read.objects, conventions), [], {
      server: read.server,
      unreadSecrets: read.unreadSecrets,
    });
    ctx.io.stdout.write(
      renderGraph(opts.output, graph, ctx.colors("stdout"), { repo: read.server, version: version() }),
    );
    for (const s of read.unreadSecrets) {
      ctx.say(`note: Secret ${s}: the repository of the consumers that name it is unknown`);
    }
    ctx.say(
      `kopiashare graph --live: ${read.objects.length} object(s) in ${read.requests} request(s) from ${read.server}`,
    );
    ctx.exitCode = EXIT_OK;
  });
}
