/** systemd unit files as the deploy tests read them, and the CLI's command tree as ExecStart must match it. */
import type { Command } from 'commander';

/** Where README "Deploying on hosts" installs the package: `npm install --prefix /opt/mcp-runbooks`. */
export const INSTALL_PREFIX = '/opt/mcp-runbooks';
/** The binary the units run: npm's link to the package's dist/cli.js. */
export const INSTALLED_BIN = `${INSTALL_PREFIX}/node_modules/.bin/mcp-runbooks`;

export type Unit = Record<string, Record<string, string[]>>;

/** systemd's unit syntax, as far as these files use it: sections, `Key=value` (repeatable), comments. */
export function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = unit[header[1]!] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 1) throw new Error(`not a unit line: ${raw}`);
    (section[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

/** What is wrong with an argv (after the program) for the CLI: unknown command, unknown flag, a value outside its choices. */
export function argvProblems(program: Command, args: readonly string[]): string[] {
  const problems: string[] = [];
  let cmd: Command = program;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      const sub = cmd.commands.find((c) => c.name() === a);
      if (!sub) problems.push(`no command "${a}" under "${cmd.name()}"`);
      else cmd = sub;
      continue;
    }
    const option = [...cmd.options, ...program.options].find((o) => o.long === a);
    if (!option) {
      problems.push(`"${cmd.name()}" has no option ${a}`);
      continue;
    }
    if (option.required || option.optional) {
      const value = args[++i];
      if (value === undefined) problems.push(`${a} needs a value`);
      else if (option.argChoices && !option.argChoices.includes(value)) problems.push(`${a} ${value}: not one of ${option.argChoices.join(', ')}`);
    }
  }
  return problems;
}
