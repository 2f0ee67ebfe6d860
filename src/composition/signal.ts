/**
 * A one-way nudge between parts built in either order: whoever notifies need
 * not know who listens, nor whether anyone does yet (the outbox relay and the
 * ring timer only listen while background work runs).
 */
export class Signal<T = void> {
  private readonly listeners = new Set<(value: T) => void>();

  notify(value: T): void {
    for (const listener of this.listeners) listener(value);
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
