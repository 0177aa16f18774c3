/**
 * The devnet's closed blocks: numbers, timestamps, the transactions each includes, hashes chained by parents. The
 * empty blocks a catch-up closes in one step are not stored: each lies between two stored blocks and is derived
 * from the earlier one. Hashes are computed when first read (Poseidon is the costly part of closing a block).
 */
import { encodeShortString } from "../internal/crypto/felt.js"
import * as Poseidon from "../internal/crypto/poseidon.js"

/**
 * A closed block.
 */
export interface Block<T> {
  readonly number: number
  readonly timestamp: number
  readonly hash: bigint
  readonly parentHash: bigint
  readonly transactions: ReadonlyArray<T>
}

export const poseidon = (values: ReadonlyArray<bigint>): bigint => Poseidon.hashMany(values)

const PREFIX = encodeShortString("DEVNET_BLOCK")
/** An empty block that was not stored: hashed from its number, its timestamp and the stored block before it. */
const gapHash = (n: number, timestamp: number, anchor: bigint) => poseidon([PREFIX, BigInt(n), BigInt(timestamp), anchor])
const GAP_HASHES_KEPT = 65_536

interface Stored<T> {
  readonly number: number
  readonly timestamp: number
  readonly transactions: ReadonlyArray<T>
  /** Timestamps of the empty blocks between the previous stored block and this one. */
  readonly gapTimestamp: (n: number) => number
  hash?: bigint
}

export class Blocks<T extends { readonly hash: bigint }> {
  private readonly stored: Array<Stored<T>> = []
  private hashed = 0
  private readonly byHash = new Map<bigint, number>()
  /** Hashes of gap blocks already served, so that a client can ask for them (or a child's parent) by hash. */
  private readonly gapHashes = new Map<bigint, number>()

  constructor(genesisTimestamp: number) {
    this.stored.push({ number: 0, timestamp: genesisTimestamp, transactions: [], gapTimestamp: () => genesisTimestamp })
  }

  get latest(): { readonly number: number; readonly timestamp: number } {
    const last = this.stored[this.stored.length - 1]!
    return { number: last.number, timestamp: last.timestamp }
  }

  /** Closes blocks up to `number`: the last one holds `transactions`, those before it are empty. */
  close(number: number, timestamp: number, transactions: ReadonlyArray<T>, gapTimestamp: (n: number) => number) {
    this.stored.push({ number, timestamp, transactions, gapTimestamp })
  }

  private parentHashOf(i: number): bigint {
    if (i === 0) return 0n
    const block = this.stored[i]!
    const previous = this.stored[i - 1]!
    return block.number - 1 === previous.number
      ? previous.hash!
      : gapHash(block.number - 1, block.gapTimestamp(block.number - 1), previous.hash!)
  }

  /** Hashes the stored blocks up to index `i`, oldest first. */
  private hashUpTo(i: number) {
    for (; this.hashed <= i; this.hashed++) {
      const block = this.stored[this.hashed]!
      block.hash = poseidon([
        PREFIX,
        BigInt(block.number),
        BigInt(block.timestamp),
        this.parentHashOf(this.hashed),
        poseidon(block.transactions.map((t) => t.hash))
      ])
      this.byHash.set(block.hash, block.number)
    }
  }

  /** The index of the last stored block at or before `n`. */
  private indexAt(n: number): number {
    let [lo, hi] = [0, this.stored.length - 1]
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.stored[mid]!.number <= n) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  private remember(hash: bigint, n: number) {
    if (this.gapHashes.size >= GAP_HASHES_KEPT) this.gapHashes.delete(this.gapHashes.keys().next().value!)
    this.gapHashes.set(hash, n)
  }

  /** Closed block `n`, or `undefined` past the latest. */
  get(n: number): Block<T> | undefined {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.latest.number) return undefined
    const i = this.indexAt(n)
    const before = this.stored[i]!
    if (before.number === n) {
      this.hashUpTo(i)
      const parentHash = this.parentHashOf(i)
      if (i > 0 && this.stored[i - 1]!.number !== n - 1) this.remember(parentHash, n - 1)
      return { number: n, timestamp: before.timestamp, hash: before.hash!, parentHash, transactions: before.transactions }
    }
    // A gap block and its parent are derived from the stored block before the gap, without walking the gap.
    this.hashUpTo(i)
    const gap = this.stored[i + 1]!.gapTimestamp
    const timestamp = gap(n)
    const parentHash = n - 1 === before.number ? before.hash! : gapHash(n - 1, gap(n - 1), before.hash!)
    const hash = gapHash(n, timestamp, before.hash!)
    this.remember(hash, n)
    if (n - 1 !== before.number) this.remember(parentHash, n - 1)
    return { number: n, timestamp, hash, parentHash, transactions: [] }
  }

  /** The closed blocks from `from` to `to` (inclusive) that hold transactions, oldest first. */
  *withTransactions(from: number, to: number): Generator<Block<T>> {
    const last = Math.min(to, this.latest.number)
    for (let i = this.indexAt(Math.max(0, from)); i < this.stored.length && this.stored[i]!.number <= last; i++) {
      const stored = this.stored[i]!
      if (stored.number >= from && stored.transactions.length > 0) yield this.get(stored.number)!
    }
  }

  /** The number of the closed block with this hash (an empty block that was not stored, once it has been served). */
  numberOf(blockHash: bigint): number | undefined {
    this.hashUpTo(this.stored.length - 1)
    return this.byHash.get(blockHash) ?? this.gapHashes.get(blockHash)
  }
}
