// containerd's event stream (`ctr events`), parsed: how a test learns a detached task's exit
// status and that the shim saw an OOM kill in the container's cgroup.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { PrivateContainerd } from './private-containerd.js';

export interface ContainerdEvent {
  namespace: string;
  /** e.g. /tasks/exit, /tasks/oom */
  topic: string;
  payload: Record<string, unknown>;
}

// "2026-11-27 19:43:29.674402617 +0000 UTC husk-test /tasks/oom {"container_id":"…"}"
const EVENT_LINE = /^\S+ \S+ \S+ \S+ (\S+) (\/\S+) (.*)$/;

export class EventWatcher {
  private text = '';
  private readonly child: ChildProcessWithoutNullStreams;
  private probes = 0;

  private constructor(private readonly containerd: PrivateContainerd) {
    this.child = spawn('ctr', ['--address', containerd.socket, 'events'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
  }

  /** Starts `ctr events` and resolves once it is subscribed (it has seen a probe event of ours). */
  static async start(containerd: PrivateContainerd): Promise<EventWatcher> {
    const watcher = new EventWatcher(containerd);
    const deadline = Date.now() + 10_000;
    for (;;) {
      // Labelling the namespace publishes /namespaces/update: proof the stream is live.
      const probe = `husk-events-probe=${++watcher.probes}`;
      await containerd.ctr(['namespaces', 'label', containerd.namespace, probe]);
      const seen = await watcher.waitFor((e) => e.topic === '/namespaces/update' && JSON.stringify(e.payload).includes(probe.replace('=', '":"')), 500);
      if (seen) break;
      if (Date.now() > deadline) {
        watcher.stop();
        throw new Error(`ctr events saw none of its probes in 10 s:\n${watcher.text}`);
      }
    }
    await containerd.ctr(['namespaces', 'label', containerd.namespace, 'husk-events-probe=']);
    return watcher;
  }

  events(): ContainerdEvent[] {
    const events: ContainerdEvent[] = [];
    for (const line of this.text.split('\n')) {
      const match = EVENT_LINE.exec(line);
      if (!match) continue;
      try {
        events.push({ namespace: match[1]!, topic: match[2]!, payload: JSON.parse(match[3]!) as Record<string, unknown> });
      } catch {
        // a payload ctr could not print as JSON
      }
    }
    return events;
  }

  /** The first event that matches, waiting up to timeoutMs; undefined if none came. */
  async waitFor(matches: (event: ContainerdEvent) => boolean, timeoutMs = 5_000): Promise<ContainerdEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events().find(matches);
      if (found || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The init's exit status from /tasks/exit, waiting up to timeoutMs. */
  async exitStatus(id: string, timeoutMs = 5_000): Promise<number | undefined> {
    const exit = await this.waitFor((e) => e.topic === '/tasks/exit' && e.payload.container_id === id && e.payload.id === id, timeoutMs);
    // containerd leaves exit_status out of the JSON when it is 0.
    return exit ? Number(exit.payload.exit_status ?? 0) : undefined;
  }

  /** Everything seen, for assertion messages. */
  get transcript(): string {
    return this.text;
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
