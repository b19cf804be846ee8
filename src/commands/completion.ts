import { Argument, Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";

export interface Node {
  name: string;
  options: string[];
  /** Options that take a value: their choices, else the value's placeholder ("file", "dir", "ns", …). */
  values: Record<string, string[] | string>;
  /** Choices of each positional argument ([] when free). */
  args: string[][];
  subcommands: Node[];
}

/** The command tree: the scripts below and the kubectl plugin completer (kubectl-complete.ts) answer from it. */
export function tree(cmd: Command<unknown[], Record<string, unknown>>): Node {
  return {
    name: cmd.name(),
    options: cmd.options.flatMap((o) => [o.short, o.long].filter((x): x is string => !!x)).concat(["--help"]),
    values: Object.fromEntries(
      cmd.options
        .filter((o) => o.required || o.optional)
        .flatMap((o) => {
          const v = o.argChoices ?? /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? "value";
          return [o.short, o.long].filter((x): x is string => !!x).map((f) => [f, v] as const);
        }),
    ),
    args: cmd.registeredArguments.map((a) => a.argChoices ?? []),
    subcommands: cmd.commands.map((c) => tree(c as unknown as Command<unknown[], Record<string, unknown>>)),
  };
}

function bash(t: Node): string {
  const cases = t.subcommands.map((s) => `    ${s.name}) opts="${s.options.join(" ")}" ;;`).join("\n");
  return `# bash completion for kopiashare: source <(kopiashare completion bash)
_kopiashare() {
  local cur verb opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  verb="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${t.subcommands.map((s) => s.name).join(" ")} ${t.options.join(" ")}" -- "$cur") )
    return
  fi
  case "$verb" in
${cases}
    *) opts="" ;;
  esac
  COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
}
complete -F _kopiashare kopiashare
complete -F _kopiashare kubectl-kopiashare
`;
}

function zsh(t: Node): string {
  const verbs = t.subcommands.map((s) => `'${s.name}'`).join(" ");
  const cases = t.subcommands.map((s) => `    ${s.name}) compadd -- ${s.options.join(" ")} ;;`).join("\n");
  return `#compdef kopiashare kubectl-kopiashare
# zsh completion for kopiashare: source <(kopiashare completion zsh)
_kopiashare() {
  if (( CURRENT == 2 )); then
    compadd -- ${verbs} ${t.options.join(" ")}
    return
  fi
  case "\${words[2]}" in
${cases}
  esac
}
compdef _kopiashare kopiashare kubectl-kopiashare
`;
}

export function completionCommand(ctx: Ctx) {
  return new Command("completion")
    .description("print a shell completion script")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh"] as const))
    .addHelpText(
      "after",
      `
Examples:
  source <(kopiashare completion bash)              # this shell only
  kopiashare completion zsh > "\${fpath[1]}/_kopiashare"   # every new zsh`,
    )
    .action((shell, _opts, cmd) => {
      const program = cmd.parent as unknown as Command<unknown[], Record<string, unknown>>;
      const t = tree(program);
      ctx.io.stdout.write(shell === "bash" ? bash(t) : zsh(t));
    });
}
