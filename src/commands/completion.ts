import { Argument, Command } from "@commander-js/extra-typings";
import type { Ctx } from "../cli.ts";

interface Node {
  name: string;
  options: string[];
  subcommands: Node[];
}

function tree(cmd: Command<unknown[], Record<string, unknown>>): Node {
  const root = cmd.parent ? cmd : cmd;
  return {
    name: root.name(),
    options: root.options.flatMap((o) => [o.short, o.long].filter((x): x is string => !!x)).concat(["--help"]),
    subcommands: root.commands.map((c) => tree(c as unknown as Command<unknown[], Record<string, unknown>>)),
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
