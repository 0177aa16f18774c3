/**
 * Every contract's storage as it was after each block: a copy of each contract a block changed, kept per contract
 * (its last `VERSIONS_KEPT`), so that a read at any `block_id` sees the state of that block. Unchanged contracts
 * share one copy across blocks.
 */

/** Past this many versions a contract's oldest are dropped; reads before the oldest kept fail as unknown. */
export const VERSIONS_KEPT = 256

interface Version<C> {
  readonly block: number
  /** `undefined`: not deployed at that block. */
  readonly value: C | undefined
}

export class History<C> {
  private readonly versions = new Map<bigint, Array<Version<C>>>()
  /** The oldest block whose state is complete: versions before it were dropped for some contract. */
  private prunedBefore = 0

  /** Records `value` (a copy the caller will not mutate) as `address` after block `block`. */
  record(block: number, address: bigint, value: C) {
    let list = this.versions.get(address)
    if (list === undefined) {
      list = []
      this.versions.set(address, list)
    }
    const last = list[list.length - 1]
    if (last !== undefined && last.block === block) list[list.length - 1] = { block, value }
    else list.push({ block, value })
    if (list.length > VERSIONS_KEPT) {
      list.shift()
      this.prunedBefore = Math.max(this.prunedBefore, list[0]!.block)
    }
  }

  /** Whether the state after block `n` is still known. */
  knows(n: number): boolean {
    return n >= this.prunedBefore
  }

  /** Every contract after block `n` (`undefined` when that state is no longer kept). */
  stateAt(n: number): Map<bigint, C> | undefined {
    if (!this.knows(n)) return undefined
    const state = new Map<bigint, C>()
    for (const [address, list] of this.versions) {
      let [lo, hi, found] = [0, list.length - 1, -1]
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        if (list[mid]!.block <= n) {
          found = mid
          lo = mid + 1
        } else hi = mid - 1
      }
      const value = found === -1 ? undefined : list[found]!.value
      if (value !== undefined) state.set(address, value)
    }
    return state
  }
}
