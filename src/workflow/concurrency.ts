// Concurrency groups as GitHub documents them (docs: "Control the concurrency of workflows and
// jobs"): at most one running and one pending run or job per group; a newer pending one cancels
// the older pending one; with cancel-in-progress the running one is cancelled instead of waited for.
// One instance is shared by every run that should see the others' groups.

interface Holder {
  /** cancels the running holder (cancel-in-progress) */
  cancel: () => void;
}
interface Waiter extends Holder {
  admit: (admitted: boolean) => void;
}

export class ConcurrencyGroups {
  private readonly running = new Map<string, Holder>();
  private readonly pending = new Map<string, Waiter>();

  /**
   * Waits for the group. Resolves true when this run or job may start, false when a newer one
   * replaced it while it was pending (it is then cancelled without running). `cancel` is called
   * if a later arrival with cancel-in-progress cancels it while it runs.
   */
  acquire(group: string, cancelInProgress: boolean, cancel: () => void): Promise<boolean> {
    const holder = this.running.get(group);
    if (!holder) {
      this.running.set(group, { cancel });
      return Promise.resolve(true);
    }
    this.pending.get(group)?.admit(false);
    const admitted = new Promise<boolean>((admit) => this.pending.set(group, { cancel, admit }));
    if (cancelInProgress) holder.cancel();
    return admitted;
  }

  /** The holder finished: the pending one, if any, starts. */
  release(group: string): void {
    const next = this.pending.get(group);
    this.pending.delete(group);
    if (next) {
      this.running.set(group, { cancel: next.cancel });
      next.admit(true);
    } else this.running.delete(group);
  }
}
