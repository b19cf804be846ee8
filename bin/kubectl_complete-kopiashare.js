#!/usr/bin/env node
// Completion for the kubectl plugin (kubectl >= 1.26): for `kubectl kopiashare <TAB>` kubectl runs this
// executable, found on PATH, with the words typed after `kopiashare` (the last one is being completed)
// and reads one candidate per line, then `:<directive>`. Runs the compiled CLI, like bin/kopiashare.js.
import { kubectlComplete } from "../dist/commands/kubectl-complete.js";

process.stdout.write(kubectlComplete(process.argv.slice(2)));
