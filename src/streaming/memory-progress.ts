/** Stream progress kept in memory: for the simulator and tests, where nothing outlives the process. */
import type { StreamProgress } from './range-stream';

export class MemoryStreamProgress implements StreamProgress {
  private readonly cursors = new Map<string, string>();

  async load(id: string): Promise<string | undefined> {
    return this.cursors.get(id);
  }

  async save(id: string, cursor: string): Promise<void> {
    this.cursors.set(id, cursor);
  }
}
