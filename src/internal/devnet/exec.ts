/**
 * The devnet's execution machinery: Cairo-style panics, a journaled view of contract storage (so a failed inner
 * call or a reverted transaction undoes exactly its own writes, without copying state), events, and calls between
 * contracts.
 */
import { U128_MAX } from "../felt.js"

/** A Cairo panic: the contract's short string. Not an `Error` (no stack to capture: panics are ordinary control flow here). */
export class Panic {
  constructor(readonly reason: string) {}
}

export const panic = (reason: string): never => {
  throw new Panic(reason)
}

export interface EventRecord {
  readonly fromAddress: bigint
  readonly keys: ReadonlyArray<bigint>
  readonly data: ReadonlyArray<bigint>
}

/** What `get_tx_info` answers. */
export interface TxInfo {
  readonly sender: bigint
  readonly nonce: bigint
  readonly signature: ReadonlyArray<bigint>
}

/** A parsed call: target and selector as numbers, calldata as the felts it arrived as. */
export interface CallRecord {
  readonly to: bigint
  readonly selector: bigint
  readonly calldata: ReadonlyArray<string>
}

/** A deployed contract: its code is the set of entrypoints it answers. */
export interface Contract {
  readonly address: bigint
  readonly classHash: bigint
  readonly kind: "account" | "erc20" | "relayer"
  /** Storage keys of this contract start with this prefix. */
  readonly prefix: string
  readonly invoke: (x: Exec, caller: bigint, selector: bigint, calldata: ReadonlyArray<string>) => ReadonlyArray<bigint>
}

/** What every execution shares: chain id, deployments and the pure-function caches (hashes, ECDSA verdicts). */
export interface World {
  readonly chainId: bigint
  readonly contracts: ReadonlyMap<bigint, Contract>
  /** Stark ECDSA: a pure function of its inputs, so its verdicts may be remembered. */
  readonly verify: (hash: bigint, r: bigint, s: bigint, publicKey: bigint) => boolean
  /** Memoised pure functions of a calldata array (keyed by the array itself). */
  readonly memo: WeakMap<ReadonlyArray<string>, Map<string, unknown>>
}

export interface Checkpoint {
  readonly journal: number
  readonly events: number
}

/**
 * One execution: reads and writes go to `target` (the live storage, or a throw-away overlay for simulations and
 * views), with `base` answering what the overlay does not hold. Every write is journaled with the value it replaced,
 * so `rollback` restores exactly the state at a checkpoint.
 */
export class Exec {
  private readonly journalKeys: Array<string> = []
  private readonly journalPrev: Array<bigint | undefined> = []
  readonly events: Array<EventRecord> = []

  constructor(
    readonly world: World,
    readonly target: Map<string, bigint>,
    readonly base: ((key: string) => bigint) | undefined,
    readonly blockNumber: number,
    readonly blockTimestamp: bigint,
    readonly tx: TxInfo
  ) {}

  read(key: string): bigint {
    const value = this.target.get(key)
    if (value !== undefined) return value
    return this.base === undefined ? 0n : this.base(key)
  }

  write(key: string, value: bigint): void {
    this.journalKeys.push(key)
    this.journalPrev.push(this.target.get(key))
    this.target.set(key, value)
  }

  emit(fromAddress: bigint, keys: ReadonlyArray<bigint>, data: ReadonlyArray<bigint>): void {
    this.events.push({ fromAddress, keys, data })
  }

  checkpoint(): Checkpoint {
    return { journal: this.journalKeys.length, events: this.events.length }
  }

  rollback(checkpoint: Checkpoint): void {
    for (let i = this.journalKeys.length - 1; i >= checkpoint.journal; i--) {
      const prev = this.journalPrev[i]
      if (prev === undefined) this.target.delete(this.journalKeys[i]!)
      else this.target.set(this.journalKeys[i]!, prev)
    }
    this.journalKeys.length = checkpoint.journal
    this.journalPrev.length = checkpoint.journal
    this.events.length = checkpoint.events
  }

  /** The surviving writes, each with the value the key held before this execution's first write to it. */
  forEachWrite(f: (key: string, previous: bigint) => void): void {
    const seen = new Set<string>()
    for (let i = 0; i < this.journalKeys.length; i++) {
      const key = this.journalKeys[i]!
      if (seen.has(key)) continue
      seen.add(key)
      f(key, this.journalPrev[i] ?? 0n)
    }
  }

  /** `call_contract_syscall`: a panic of the callee propagates (the caller decides whether to catch it). */
  call(caller: bigint, to: bigint, selector: bigint, calldata: ReadonlyArray<string>): ReadonlyArray<bigint> {
    const contract = this.world.contracts.get(to)
    if (contract === undefined) return panic("CONTRACT_NOT_DEPLOYED")
    return contract.invoke(this, caller, selector, calldata)
  }

  /** A pure function of a calldata array, computed once per array. */
  memoised<A>(calldata: ReadonlyArray<string>, key: string, compute: () => A): A {
    let entries = this.world.memo.get(calldata)
    if (entries === undefined) {
      entries = new Map()
      this.world.memo.set(calldata, entries)
    }
    if (entries.has(key)) return entries.get(key) as A
    const value = compute()
    entries.set(key, value)
    return value
  }
}

/** Storage key of a contract variable, Cairo-like: `name[key1][key2]`. */
export const slot = (contract: Contract, name: string, ...keys: ReadonlyArray<bigint>): string => {
  let key = contract.prefix + name
  for (const k of keys) key += "[0x" + k.toString(16) + "]"
  return key
}

/**
 * Cairo's calldata deserialisation: parameters are read in order; a missing felt fails with
 * `Failed to deserialize param #n`, leftovers with `Input too long for arguments`.
 */
export class Args {
  private index = 0
  private param = 0

  constructor(private readonly calldata: ReadonlyArray<string>) {}

  private fail(): never {
    return panic(`Failed to deserialize param #${this.param}`)
  }

  private nextFelt(): bigint {
    const value = this.calldata[this.index++]
    if (value === undefined) return this.fail()
    return BigInt(value)
  }

  felt(): bigint {
    this.param++
    return this.nextFelt()
  }

  /** An unsigned integer below `2^bits`. */
  uint(max: bigint): bigint {
    this.param++
    const value = this.nextFelt()
    return value > max ? this.fail() : value
  }

  u256(): bigint {
    this.param++
    const low = this.nextFelt()
    const high = this.nextFelt()
    if (low > U128_MAX || high > U128_MAX) return this.fail()
    return low + (high << 128n)
  }

  feltArray(): Array<bigint> {
    this.param++
    const length = this.nextFelt()
    if (length > BigInt(this.calldata.length)) return this.fail()
    const out: Array<bigint> = []
    for (let i = 0n; i < length; i++) out.push(this.nextFelt())
    return out
  }

  /** `Array<Call>`: `[n, (to, selector, calldata_len, calldata...)*]`. */
  calls(): Array<CallRecord> {
    this.param++
    const n = this.nextFelt()
    if (n > BigInt(this.calldata.length)) return this.fail()
    const out: Array<CallRecord> = []
    for (let c = 0n; c < n; c++) {
      const to = this.nextFelt()
      const selector = this.nextFelt()
      const length = Number(this.nextFelt())
      if (this.index + length > this.calldata.length) return this.fail()
      out.push({ to, selector, calldata: this.calldata.slice(this.index, this.index + length) })
      this.index += length
    }
    return out
  }

  end(): void {
    if (this.index < this.calldata.length) panic("Input too long for arguments")
  }
}

export const u256Felts = (value: bigint): Array<bigint> => [value & U128_MAX, value >> 128n]

/** Serialises `Array<Span<felt252>>`, what a multicall returns. */
export const serializeResults = (results: ReadonlyArray<ReadonlyArray<bigint>>): Array<bigint> => {
  const out: Array<bigint> = [BigInt(results.length)]
  for (const result of results) out.push(BigInt(result.length), ...result)
  return out
}
