/**
 * The devnet's node: the chain, its clock (blocks close lazily as `Clock` passes, plus `advanceTime`), submission,
 * and the lagging view readers may be given. What the RPC, the paymaster and the control handle share.
 */
import * as nodeCrypto from "node:crypto"
import { Clock, Duration, Effect } from "effect"
import { STARKNET_CONTRACTS, SN_SEPOLIA } from "../Constants.js"
import { TransactionNotFound } from "../Errors.js"
import { parseNumeric, toHex, typedDataScalar } from "../internal/crypto/felt.js"
import type { Address, Felt, TransactionStatus, TxHash } from "../Schemas.js"
import { Chain, type Outcome, type PreConfirmed, type State } from "./chain.js"
import { type Tx, ZERO_FEE_FIELDS } from "./transactions.js"
import type { FaultGate } from "./faults.js"
import { resolve, type Settings } from "./profile.js"
import type { BlockId, DevnetBlock, DevnetOptions } from "./types.js"

export const felt = (v: bigint) => toHex(v) as Felt

/** A transaction as the devnet serves it: the INVOKE v3 its hash was computed from. */
export const txView = (tx: Tx): DevnetBlock["transactions"][number] => {
  const fields = tx.payload.kind === "invoke" ? tx.payload.fields : ZERO_FEE_FIELDS
  return {
    transactionHash: felt(tx.hash) as TxHash,
    senderAddress: felt(tx.sender) as Address,
    nonce: felt(tx.nonce),
    calldata: tx.calldata.map(felt),
    signature: tx.payload.kind === "invoke" ? tx.payload.signature.map(felt) : [],
    resourceBounds: fields.resourceBounds,
    tip: fields.tip,
    paymasterData: fields.paymasterData.map(felt),
    accountDeploymentData: fields.accountDeploymentData.map(felt),
    nonceDataAvailabilityMode: fields.nonceDataAvailabilityMode,
    feeDataAvailabilityMode: fields.feeDataAvailabilityMode
  }
}

/**
 * What a receipt of a transaction shows as readers see it: its outcome and the block it is in, a closed one (with
 * its hash) or the block being built (`PRE_CONFIRMED`, no hash: `TXN_RECEIPT_WITH_BLOCK_INFO` of spec 0.9).
 */
export interface ReceiptView extends Outcome {
  readonly finalityStatus: TransactionStatus["finalityStatus"]
  readonly blockNumber: number
  readonly blockHash?: bigint
}

export interface Node {
  readonly chain: Chain
  /** The options a profile decides, resolved. */
  readonly settings: Settings
  readonly chainId: bigint
  readonly relayer: bigint
  /** Closes every block whose interval has passed by `Clock` (plus `advanceTime`). */
  readonly catchUp: Effect.Effect<void>
  /** The chain's clock in seconds: `Clock` plus what `advanceTime` added. */
  readonly nowSeconds: Effect.Effect<bigint>
  readonly nowMillis: Effect.Effect<number>
  readonly advance: (millis: number) => void
  /** The block readers see, `readLagBlocks` behind (never before the lag began). */
  readonly readBlock: () => number
  /** The state readers see when they lag; `undefined` for the present. */
  readonly lagged: () => { readonly state: State; readonly timestamp: number } | undefined
  /** Records when block `n` closed (the node's clock, ms): `latestLag` counts from there. */
  readonly closedAt: (n: number, millis: number) => void
  /** From now on readers see this block for a while, then trail by `readLagBlocks`. */
  readonly beginLag: () => void
  readonly endLag: () => void
  /**
   * Accepts a transaction into the pool; the same transaction twice is one. `relayed`: sent by the paymaster, so
   * unknown to the node for `submissionHidden`, then `CANDIDATE` for `candidateFor`.
   */
  readonly enqueue: (payload: Tx["payload"], outsideNonce?: bigint, relayed?: boolean) => TxHash
  readonly findTx: (txHash: string) => Effect.Effect<Tx, TransactionNotFound>
  readonly statusOf: (tx: Tx) => TransactionStatus
  /** The receipt readers see; `undefined` while the transaction has no outcome they can see (RECEIVED, or lagging). */
  readonly receiptOf: (tx: Tx) => ReceiptView | undefined
  /**
   * The block being built as readers of the present see it (the pending transactions due in it, run in order at
   * the time it would close now); `undefined` for a lagging reader, who sees the latest closed block instead.
   */
  readonly preConfirmed: () => PreConfirmed | undefined
  /** The number of the closed block `id` names, as readers see the chain; `undefined` when there is none. */
  readonly blockNumberOf: (id: BlockId) => number | undefined
  /** Closed block `id` as readers see it, in the devnet's shape. */
  readonly block: (id: BlockId) => DevnetBlock | undefined
  /** The state readers see at `pre_confirmed` (a lagging reader: its latest closed block) and its timestamp. */
  readonly head: () => { readonly state: State; readonly timestamp: number }
  /** A read-only call on the state readers see at `pre_confirmed`. */
  readonly view: (contract: bigint, selector: bigint, calldata: ReadonlyArray<bigint>) => Array<bigint>
}

/** The node's clock and what reads lag behind, changed as the chain moves on. */
interface Clockwork {
  /** What `advanceTime` added to `Clock`. */
  offsetMillis: number
  /** When the last closed block closed. */
  lastBlockMillis: number
  /** The chain's clock as last seen by a request: the time the block being built (pre-confirmed) runs at. */
  seenMillis: number
  /** The state and timestamp of each of the last blocks, kept only while reads lag. */
  readonly history: Map<number, { readonly state: State; readonly timestamp: number }>
  /** The first block the lagging view may show (the one closed when the lag began). */
  lagFrom: number
  /** When each recent block closed, kept while `latestLag` may hide it. */
  readonly closeTimes: Map<number, number>
}

/** The chain at genesis: its tokens deployed. */
const genesis = (options: DevnetOptions, chainId: bigint, startMillis: number): Chain => {
  const chain = new Chain(chainId, Math.floor(startMillis / 1000), options.l1AcceptAfterBlocks ?? 10)
  for (const { contractAddress, decimals } of Object.values(STARKNET_CONTRACTS)) {
    chain.deployToken(BigInt(contractAddress), decimals === 6 ? "USDC" : "STRK", decimals)
  }
  chain.commitGenesis()
  return chain
}

const recordCloseTime = (settings: Settings, clock: Clockwork) => (n: number, millis: number) => {
  if (settings.latestLagMillis === 0) return
  clock.closeTimes.set(n, millis)
  for (const k of clock.closeTimes.keys()) if (millis - clock.closeTimes.get(k)! > settings.latestLagMillis + 1000) clock.closeTimes.delete(k)
}

/**
 * Closes every block due by the chain's clock. Every request passes here: a plain map over the clock (no
 * generator), which returns at once between blocks.
 */
const makeCatchUp = (
  chain: Chain,
  settings: Settings,
  faults: FaultGate,
  blockMillis: number,
  clock: Clockwork,
  nowMillis: Effect.Effect<number>,
  closedAt: (n: number, millis: number) => void
) =>
  Effect.map(nowMillis, (now) => {
    clock.seenMillis = now
    const due = Math.floor((now - clock.lastBlockMillis) / blockMillis)
    if (due <= 0) return
    const lag = faults.current().readLagBlocks ?? 0
    // Empty blocks need no work: with nothing pending, jump to the last one due.
    let closed = 0
    while (closed < due) {
      const from = chain.latest.number
      // Blocks in which every pending transaction is still held run nothing either: jump to the first that runs one.
      let firstRun = Infinity
      for (const tx of chain.pending) firstRun = Math.min(firstRun, tx.holdUntil + 1)
      const step = Math.max(1, Math.min(due - closed, firstRun - from))
      closed += step
      clock.lastBlockMillis += step * blockMillis
      const endMillis = clock.lastBlockMillis
      chain.closeBlock(from + step, Math.floor(endMillis / 1000), (n) => Math.floor((endMillis - (from + step - n) * blockMillis) / 1000))
      if (settings.latestLagMillis > 0) {
        for (let n = Math.max(from + 1, from + step - 64); n <= from + step; n++) closedAt(n, endMillis - (from + step - n) * blockMillis)
      }
      if (lag > 0) keepHistory(chain, clock, lag, from, step, blockMillis)
    }
  })

/** The state of the blocks just closed, for lagging readers. The blocks of one step share one state: all but the last are empty. */
const keepHistory = (chain: Chain, clock: Clockwork, lag: number, from: number, step: number, blockMillis: number) => {
  const state = chain.snapshotState()
  for (let n = Math.max(from + 1, from + step - lag); n <= from + step; n++) {
    clock.history.set(n, { state, timestamp: Math.floor((clock.lastBlockMillis - (from + step - n) * blockMillis) / 1000) })
  }
  for (const n of clock.history.keys()) if (n < chain.latest.number - lag) clock.history.delete(n)
}

/** What readers see of the chain: the block they read at, a lagging reader's past, the block being built. */
const makeReaderView = (chain: Chain, settings: Settings, faults: FaultGate, clock: Clockwork) => {
  /** The block lagging readers (the `readLagBlocks` fault) see: their whole view is of the past. */
  const faultBlock = () => {
    const lag = faults.current().readLagBlocks ?? 0
    return lag === 0 ? chain.latest.number : Math.max(clock.lagFrom, chain.latest.number - lag)
  }
  const faultLagging = () => faultBlock() !== chain.latest.number
  /** `latestLag`: the newest block closed at least that long ago is `latest`; pre_confirmed is the present. */
  const servedLatest = () => {
    let n = chain.latest.number
    if (settings.latestLagMillis === 0) return n
    const cutoff = clock.seenMillis - settings.latestLagMillis
    while (n > 0 && (clock.closeTimes.get(n) ?? -Infinity) > cutoff) n--
    return n
  }
  const readBlock = () => Math.min(faultBlock(), servedLatest())
  const lagged = () => {
    const block = readBlock()
    if (block === chain.latest.number) return undefined
    if (faultLagging() && block === faultBlock()) return clock.history.get(block)
    const state = chain.stateAt(block)
    const b = chain.blocks.get(block)
    return state === undefined || b === undefined ? undefined : { state, timestamp: b.timestamp }
  }
  // Readers of the present see the block being built; a lagging reader sees its latest closed block.
  // A lagging node (a read lag asked for) has not seen the block being built either, even before a block closes.
  const preConfirmed = () =>
    faultLagging() || (faults.current().readLagBlocks ?? 0) > 0
      ? undefined
      : chain.preConfirmed(Math.max(chain.latest.timestamp, Math.floor(clock.seenMillis / 1000)), clock.seenMillis)
  return { faultLagging, readBlock, lagged, preConfirmed }
}

type ReaderView = ReturnType<typeof makeReaderView>

/** Submission and lookup of transactions, as the node knows them. */
const makeSubmission = (chain: Chain, settings: Settings, faults: FaultGate, clock: Clockwork) => {
  const enqueue = (payload: Tx["payload"], outsideNonce?: bigint, relayed = false) => {
    const tx = chain.submit(payload, chain.latest.number + (faults.current().holdBlocks ?? 0), outsideNonce)
    if (relayed && tx.visibleAtMillis === undefined && settings.submissionHiddenMillis + settings.candidateMillis > 0) {
      tx.visibleAtMillis = clock.seenMillis + settings.submissionHiddenMillis
      tx.preConfirmedAtMillis = tx.visibleAtMillis + settings.candidateMillis
    }
    return felt(tx.hash) as TxHash
  }
  /** Not known to the node yet (`submissionHidden`): a hash the paymaster returned, not in this node's view. */
  const hidden = (tx: Tx) => (tx.visibleAtMillis ?? 0) > clock.seenMillis

  const findTx = (txHash: string) =>
    Effect.suspend(() => {
      let key: bigint
      try {
        key = BigInt(txHash)
      } catch {
        return Effect.fail(new TransactionNotFound({ txHash }))
      }
      const tx = chain.txs.get(key)
      // A dropped transaction is forgotten, as a node forgets what left its mempool unincluded; one the paymaster
      // just sent is not known yet.
      return tx === undefined || tx.rejected !== undefined || hidden(tx) ? Effect.fail(new TransactionNotFound({ txHash })) : Effect.succeed(tx)
    })
  return { enqueue, findTx }
}

const withRevertReason = (revertReason: string | undefined) => revertReason !== undefined ? { revertReason } : {}

/** A transaction's status as readers see it. */
const statusAsSeen = (chain: Chain, readers: ReaderView, clock: Clockwork) => (tx: Tx): TransactionStatus => {
  const finalityStatus = chain.finalityAt(tx, readers.readBlock())
  if (finalityStatus === "RECEIVED" && tx.blockNumber !== undefined && !readers.faultLagging()) {
    // In a closed block that `latest` does not serve yet (`latestLag`): still in the node's pre-confirmed view.
    return { finalityStatus: "PRE_CONFIRMED", executionStatus: tx.execution!, ...withRevertReason(tx.revertReason) }
  }
  if (finalityStatus === "RECEIVED" && (tx.preConfirmedAtMillis ?? 0) > clock.seenMillis) return { finalityStatus: "CANDIDATE" }
  if (finalityStatus === "RECEIVED") {
    // Due in the block being built, as readers of the present see it: PRE_CONFIRMED, with the outcome it has
    // there. Held, or behind a lagging reader: still RECEIVED.
    if (tx.blockNumber !== undefined || readers.faultLagging()) return { finalityStatus }
    const outcome = readers.preConfirmed()?.outcomes.get(tx)
    return outcome === undefined
      ? { finalityStatus }
      : { finalityStatus: "PRE_CONFIRMED", executionStatus: outcome.execution, ...withRevertReason(outcome.revertReason) }
  }
  return { finalityStatus, executionStatus: tx.execution!, ...withRevertReason(tx.revertReason) }
}

/** A transaction's receipt as readers see it. */
const receiptAsSeen = (chain: Chain, readers: ReaderView, statusOf: (tx: Tx) => TransactionStatus) => (tx: Tx): ReceiptView | undefined => {
  const status = statusOf(tx)
  if (status.executionStatus === undefined) return undefined
  if (status.finalityStatus === "PRE_CONFIRMED" && tx.blockNumber !== undefined) {
    return {
      finalityStatus: "PRE_CONFIRMED",
      execution: tx.execution!,
      ...withRevertReason(tx.revertReason),
      events: tx.events,
      gas: tx.gas!,
      blockNumber: tx.blockNumber
    }
  }
  if (status.finalityStatus === "PRE_CONFIRMED") {
    const pre = readers.preConfirmed()
    const outcome = pre?.outcomes.get(tx)
    return pre === undefined || outcome === undefined ? undefined : { ...outcome, finalityStatus: "PRE_CONFIRMED", blockNumber: pre.number }
  }
  const block = chain.blocks.get(tx.blockNumber!)!
  return {
    finalityStatus: status.finalityStatus,
    execution: tx.execution!,
    ...withRevertReason(tx.revertReason),
    events: tx.events,
    gas: tx.gas!,
    blockNumber: block.number,
    blockHash: block.hash
  }
}

/** Closed blocks as readers see them. */
const makeBlockReads = (chain: Chain, readBlock: () => number) => {
  const blockNumberOf = (id: BlockId): number | undefined => {
    const visible = readBlock()
    const n = id === "latest" || id === "pre_confirmed"
      ? visible
      : id === "l1_accepted"
      ? Math.max(0, visible - chain.l1AfterBlocks)
      : "blockNumber" in id
      ? id.blockNumber
      : parseNumeric(id.blockHash) === undefined
      ? undefined
      : chain.blocks.numberOf(BigInt(id.blockHash))
    return n !== undefined && Number.isSafeInteger(n) && n >= 0 && n <= visible ? n : undefined
  }

  const block = (id: BlockId): DevnetBlock | undefined => {
    const n = blockNumberOf(id)
    const b = n === undefined ? undefined : chain.blocks.get(n)
    if (b === undefined) return undefined
    return {
      blockNumber: b.number,
      blockHash: felt(b.hash),
      parentHash: felt(b.parentHash),
      timestamp: b.timestamp,
      status: b.number <= readBlock() - chain.l1AfterBlocks ? "ACCEPTED_ON_L1" : "ACCEPTED_ON_L2",
      transactions: b.transactions.map(txView)
    }
  }
  return { blockNumberOf, block }
}

export const make = (options: DevnetOptions, faults: FaultGate): Effect.Effect<Node> =>
  Effect.gen(function*() {
    const settings = resolve(options)
    const chainId = typedDataScalar(options.chainId ?? SN_SEPOLIA)
    const blockMillis = Math.max(1, Duration.toMillis(Duration.decode(options.blockTime ?? "100 millis")))
    const startMillis = yield* Clock.currentTimeMillis
    const chain = genesis(options, chainId, startMillis)
    const relayer = BigInt("0x" + nodeCrypto.createHash("sha256").update("devnet-relayer").digest("hex")) >> 6n
    const clock: Clockwork = {
      offsetMillis: 0,
      lastBlockMillis: startMillis,
      seenMillis: startMillis,
      history: new Map(),
      lagFrom: 0,
      closeTimes: new Map()
    }
    const closedAt = recordCloseTime(settings, clock)
    const nowMillis = Effect.map(Clock.currentTimeMillis, (ms) => ms + clock.offsetMillis)
    const readers = makeReaderView(chain, settings, faults, clock)
    const statusOf = statusAsSeen(chain, readers, clock)
    // Readers of the present read the block being built (`pre_confirmed`), a lagging reader its latest closed block.
    // (`latestLag` lags only `latest`: the block being built is still the present.)
    const head = () => readers.preConfirmed() ?? readers.lagged() ?? { state: chain.contracts, timestamp: chain.latest.timestamp }

    return {
      chain,
      settings,
      closedAt,
      chainId,
      relayer,
      catchUp: makeCatchUp(chain, settings, faults, blockMillis, clock, nowMillis, closedAt),
      nowMillis,
      nowSeconds: Effect.map(nowMillis, (ms) => BigInt(Math.floor(ms / 1000))),
      advance: (millis) => {
        clock.offsetMillis += millis
      },
      readBlock: readers.readBlock,
      lagged: readers.lagged,
      beginLag: () => {
        clock.history.clear()
        clock.history.set(chain.latest.number, { state: chain.snapshotState(), timestamp: chain.latest.timestamp })
        clock.lagFrom = chain.latest.number
      },
      endLag: () => clock.history.clear(),
      ...makeSubmission(chain, settings, faults, clock),
      statusOf,
      receiptOf: receiptAsSeen(chain, readers, statusOf),
      preConfirmed: readers.preConfirmed,
      ...makeBlockReads(chain, readers.readBlock),
      head,
      view: (contract, selector, calldata) => {
        const at = head()
        return chain.viewAt(at.state, BigInt(at.timestamp), () => chain.call(0n, contract, selector, calldata))
      }
    }
  })
