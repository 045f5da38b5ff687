/**
 * The `command` service manager: argv templates per action (e.g.
 * `start-stop-daemon`, `pg_ctlcluster`, or the sandbox's controller), with
 * `{service}` replaced by the service name. Status: exit code 0 means active.
 */
import { ServiceCommandError } from '../common/errors.js';
import type { ServiceConfig } from '../config/config.js';
import type { CommandTemplates } from '../config/schema.js';
import { readLogFamilySince } from './log-files.js';
import { assertConfigured, type CallOptions, type LogLine, type ServiceManager, type ServiceStatus } from './manager.js';
import { expandTemplate, runArgv } from './run-argv.js';

export interface CommandManagerOptions {
  services: readonly ServiceConfig[];
  commands: CommandTemplates;
  timeoutSeconds: number;
}

export class CommandServiceManager implements ServiceManager {
  readonly type = 'command' as const;
  readonly services: readonly string[];
  readonly #byName: Map<string, ServiceConfig>;
  readonly #commands: CommandTemplates;
  readonly #timeoutMs: number;

  constructor(opts: CommandManagerOptions) {
    this.services = opts.services.map((s) => s.name);
    this.#byName = new Map(opts.services.map((s) => [s.name, s]));
    this.#commands = opts.commands;
    this.#timeoutMs = opts.timeoutSeconds * 1000;
  }

  #argv(service: string, action: keyof CommandTemplates): string[] | undefined {
    assertConfigured(service, this.services);
    const template = this.#byName.get(service)?.commands[action] ?? this.#commands[action];
    return template ? expandTemplate(template, service) : undefined;
  }

  async status(service: string, opts: CallOptions = {}): Promise<ServiceStatus> {
    const argv = this.#argv(service, 'status')!;
    try {
      const { exitCode, output } = await runArgv(argv, { service, action: 'status', timeoutMs: this.#timeoutMs, signal: opts.signal });
      const detail = output.trim().split('\n').slice(-1)[0] ?? '';
      return { service, state: exitCode === 0 ? 'active' : 'inactive', detail: detail || `exit code ${exitCode}` };
    } catch (err) {
      if (err instanceof ServiceCommandError && err.timedOut) {
        return { service, state: 'unknown', detail: `status command timed out after ${this.#timeoutMs / 1000}s` };
      }
      throw err;
    }
  }

  async #act(service: string, action: 'start' | 'stop' | 'restart', opts: CallOptions): Promise<void> {
    const argv = this.#argv(service, action)!;
    const { exitCode, output } = await runArgv(argv, { service, action, timeoutMs: this.#timeoutMs, signal: opts.signal });
    if (exitCode !== 0) throw new ServiceCommandError({ service, action, argv, exitCode, timedOut: false, output });
  }

  start(service: string, opts: CallOptions = {}): Promise<void> {
    return this.#act(service, 'start', opts);
  }

  stop(service: string, opts: CallOptions = {}): Promise<void> {
    return this.#act(service, 'stop', opts);
  }

  async restart(service: string, opts: CallOptions = {}): Promise<void> {
    if (this.#argv(service, 'restart')) return this.#act(service, 'restart', opts);
    await this.stop(service, opts);
    await this.start(service, opts);
  }

  async logsSince(service: string, since: Date, opts: CallOptions = {}): Promise<LogLine[]> {
    assertConfigured(service, this.services);
    const files = this.#byName.get(service)?.logFiles ?? [];
    const all = await Promise.all(files.map((f) => readLogFamilySince(f, since, opts.signal)));
    return all.flat();
  }
}
