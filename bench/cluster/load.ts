// Constant open-loop load: weather JSON calls through nginx at a steady rate, each started on its
// schedule whether or not earlier ones have answered (a closed loop would slow down exactly when
// the cluster does, and hide the failures the scenarios look for). Every call is kept with its
// start, end, status and the version that answered, so a scenario can ask what happened in a
// window of time.
import { Agent, request } from 'undici';

export interface LoadCall {
  /** performance.now() at the start and at the end of the call. */
  start: number;
  end: number;
  /** HTTP status; 0 when the call got no answer (a refused or broken connection, a timeout). */
  status: number;
  version?: number;
  error?: string;
}

export class OpenLoopLoad {
  readonly calls: LoadCall[] = [];
  /** Calls not started because `maxInFlight` were already open (an overloaded client, not the cluster). */
  skipped = 0;
  private readonly agent = new Agent({ connections: 64, headersTimeout: 30_000, bodyTimeout: 30_000 });
  private readonly open = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(
    private readonly url: string,
    private readonly body: string,
    readonly ratePerSecond: number,
    private readonly maxInFlight = 1000,
  ) {}

  start(): void {
    const interval = 1000 / this.ratePerSecond;
    let due = performance.now();
    // A 5 ms tick starts every call that is due: timers drift, the schedule does not.
    this.timer = setInterval(() => {
      const now = performance.now();
      while (due <= now) {
        due += interval;
        if (this.inFlight >= this.maxInFlight) this.skipped++;
        else this.call();
      }
    }, 5);
  }

  private call(): void {
    const start = performance.now();
    this.inFlight++;
    const done = request(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: this.body, dispatcher: this.agent })
      .then(async (res) => {
        const text = await res.body.text();
        let version: number | undefined;
        if (res.statusCode === 200) version = Number((JSON.parse(text) as { model_version?: string }).model_version);
        this.calls.push({ start, end: performance.now(), status: res.statusCode, ...(version === undefined ? { error: text.slice(0, 200) } : { version }) });
      })
      .catch((err: unknown) => {
        this.calls.push({ start, end: performance.now(), status: 0, error: String((err as Error)?.message ?? err) });
      })
      .finally(() => {
        this.inFlight--;
        this.open.delete(done);
      });
    this.open.add(done);
  }

  /** Calls started and not answered yet. */
  get inFlightNow(): number {
    return this.inFlight;
  }

  /** Calls that started in [from, to). */
  startedIn(from: number, to: number): LoadCall[] {
    return this.calls.filter((c) => c.start >= from && c.start < to);
  }

  /** Calls that started before `at` and had not ended at `at` (answered since). */
  openAt(at: number): LoadCall[] {
    return this.calls.filter((c) => c.start < at && c.end > at);
  }

  /** Stop starting calls, let the open ones finish, close the connections. */
  async stop(): Promise<void> {
    if (this.agent.closed) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    await Promise.all([...this.open]);
    await this.agent.close();
  }
}

/** Non-2xx answers and calls without an answer. */
export function failures(calls: LoadCall[]): LoadCall[] {
  return calls.filter((c) => c.status < 200 || c.status > 299);
}
