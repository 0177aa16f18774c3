/**
 * The session-account protocol's bytes: SNIP-12 revision 1 typed data for `execute_from_outside_v2`, its message
 * hash (computed with Poseidon straight from the formulas, no generic encoder), the 4-felt session signature, the
 * direct-path hash and the calldata of the account's session entrypoints. Pure functions over felts.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ANY_CALLER } from "./Constants.js"
import { typedDataScalar, toHex, encodeShortString } from "./internal/crypto/felt.js"
import { hashMany } from "./internal/crypto/poseidon.js"
import { callSelector, type Call, type Felt, selectorOf, type SessionConfig } from "./Schemas.js"

/** Starknet's Poseidon, specialised for its parameters (bit-exact with @scure/starknet's, several times faster). */
const poseidon = (values: ReadonlyArray<bigint>): bigint => hashMany(values)

/** @since 0.1.0 @category type hashes */
export const DOMAIN_TYPE_HASH = 0x1ff2f602e42168014d405a94f75e8a93d640751d71d16311266e140d8b0a210n
/** @since 0.1.0 @category type hashes */
export const CALL_TYPE_HASH = 0x3635c7f2a7ba93844c0d064e18e487f35ab90f7c39d00f186a781fc3f0c2ca9n
/** The standard form: `Execute After` and `Execute Before` typed `u128`. @since 0.1.0 @category type hashes */
export const OUTSIDE_EXECUTION_TYPE_HASH = 0x312b56c05a7965066ddbda31c016d8d05afc305071c0ca3cdc2192c3c2f1f0fn
/** The fallback form the account also accepts: timestamps typed `felt`. @since 0.1.0 @category type hashes */
export const OUTSIDE_EXECUTION_FELT_TYPE_HASH = 0x5a4b49e17039355cd95d1f0981d75901191d1319b1f4b05a9a791d218d7e0cn

const STARKNET_MESSAGE = encodeShortString("StarkNet Message")
const DOMAIN_NAME = "Account.execute_from_outside"

/**
 * One call inside an outside execution.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutsideCall {
  readonly to: Felt
  readonly selector: Felt
  readonly calldata: ReadonlyArray<Felt>
}

/**
 * What an outside execution authorises.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutsideExecution {
  readonly caller: Felt
  readonly nonce: Felt
  readonly executeAfter: bigint
  readonly executeBefore: bigint
  readonly calls: ReadonlyArray<OutsideCall>
}

/** Turns guide-shaped calls into outside calls (names become selectors). @since 0.1.0 @category constructors */
export const toOutsideCalls = (calls: ReadonlyArray<Call>): ReadonlyArray<OutsideCall> =>
  calls.map((call) => ({ to: call.contractAddress, selector: callSelector(call), calldata: call.calldata }))

// ---------------------------------------------------------------------------------------------------------------
// The wire shape paymasters return
// ---------------------------------------------------------------------------------------------------------------

const TypeMember = Schema.Struct({ name: Schema.String, type: Schema.String })

/**
 * SNIP-12 typed data as a paymaster returns it (strings everywhere).
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutsideExecutionTypedData = Schema.Struct({
  types: Schema.Record({ key: Schema.String, value: Schema.Array(TypeMember) }),
  primaryType: Schema.Literal("OutsideExecution"),
  domain: Schema.Struct({
    name: Schema.String,
    version: Schema.Union(Schema.String, Schema.Number),
    chainId: Schema.Union(Schema.String, Schema.Number),
    revision: Schema.Union(Schema.String, Schema.Number)
  }),
  message: Schema.Struct({
    Caller: Schema.String,
    Nonce: Schema.String,
    "Execute After": Schema.Union(Schema.String, Schema.Number),
    "Execute Before": Schema.Union(Schema.String, Schema.Number),
    Calls: Schema.Array(
      Schema.Struct({
        To: Schema.String,
        Selector: Schema.String,
        Calldata: Schema.Array(Schema.String)
      })
    )
  })
}).annotations({ identifier: "OutsideExecutionTypedData" })
/** @since 0.1.0 */
export type OutsideExecutionTypedData = typeof OutsideExecutionTypedData.Type

const TYPES = {
  StarknetDomain: [
    { name: "name", type: "shortstring" },
    { name: "version", type: "shortstring" },
    { name: "chainId", type: "shortstring" },
    { name: "revision", type: "shortstring" }
  ],
  OutsideExecution: [
    { name: "Caller", type: "ContractAddress" },
    { name: "Nonce", type: "felt" },
    { name: "Execute After", type: "u128" },
    { name: "Execute Before", type: "u128" },
    { name: "Calls", type: "Call*" }
  ],
  Call: [
    { name: "To", type: "ContractAddress" },
    { name: "Selector", type: "selector" },
    { name: "Calldata", type: "felt*" }
  ]
}

/**
 * Builds the SNIP-12 rev 1 typed data for an outside execution, in the shape paymasters return.
 * `chainId` is the chain's short string (`"SN_SEPOLIA"`) or its felt.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toTypedData = (chainId: string, oe: OutsideExecution): OutsideExecutionTypedData => ({
  types: TYPES,
  primaryType: "OutsideExecution",
  domain: { name: DOMAIN_NAME, version: "2", chainId: chainIdName(chainId), revision: "1" },
  message: {
    Caller: oe.caller,
    Nonce: oe.nonce,
    "Execute After": toHex(oe.executeAfter),
    "Execute Before": toHex(oe.executeBefore),
    Calls: oe.calls.map((call) => ({ To: call.to, Selector: call.selector, Calldata: [...call.calldata] }))
  }
})

/** A chain id felt as its short string when it is printable ASCII (`0x534e5f4d41494e` -> `SN_MAIN`). */
const chainIdName = (chainId: string): string => {
  const value = typedDataScalar(chainId)
  let text = ""
  for (let v = value; v > 0n; v >>= 8n) {
    const code = Number(v & 0xffn)
    if (code < 0x20 || code > 0x7e) return chainId
    text = String.fromCharCode(code) + text
  }
  return text === "" || /^[0-9]/.test(text) ? chainId : text
}

/**
 * Reads typed data back into an outside execution, interpreting every string as SNIP-12 does. Returns the chain id
 * as a felt too.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromTypedData = (td: OutsideExecutionTypedData): { readonly chainId: Felt; readonly outsideExecution: OutsideExecution } => ({
  chainId: toHex(typedDataScalar(td.domain.chainId)) as Felt,
  outsideExecution: {
    caller: toHex(typedDataScalar(td.message.Caller)) as Felt,
    nonce: toHex(typedDataScalar(td.message.Nonce)) as Felt,
    executeAfter: typedDataScalar(td.message["Execute After"]),
    executeBefore: typedDataScalar(td.message["Execute Before"]),
    calls: td.message.Calls.map((call) => ({
      to: toHex(typedDataScalar(call.To)) as Felt,
      // As starknet.js reads a `selector` (`prepareSelector`): hex is the selector, any other string (a decimal one
      // included) names an entrypoint.
      selector: /^0[xX][0-9a-fA-F]+$/.test(call.Selector) ? toHex(typedDataScalar(call.Selector)) as Felt : selectorOf(call.Selector),
      calldata: call.Calldata.map((felt) => toHex(typedDataScalar(felt)) as Felt)
    }))
  }
})

// ---------------------------------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------------------------------

const domainHashes = new Map<string, bigint>()

/**
 * The SNIP-12 rev 1 hash of a typed-data domain, read as SNIP-12 reads strings (memoised).
 *
 * @since 0.1.0
 * @category hashing
 */
export const domainHashOf = (domain: OutsideExecutionTypedData["domain"]): bigint => {
  const fields = [domain.name, domain.version, domain.chainId, domain.revision].map(typedDataScalar)
  const key = fields.join(",")
  let cached = domainHashes.get(key)
  if (cached === undefined) {
    cached = poseidon([DOMAIN_TYPE_HASH, ...fields])
    domainHashes.set(key, cached)
  }
  return cached
}

/**
 * The domain hash the account uses for `execute_from_outside_v2` on a chain:
 * `{ name: "Account.execute_from_outside", version: 2, chainId, revision: 1 }`.
 *
 * @since 0.1.0
 * @category hashing
 */
export const domainHash = (chainId: string | bigint): bigint =>
  domainHashOf({ name: DOMAIN_NAME, version: 2, chainId: typeof chainId === "bigint" ? toHex(chainId) : chainId, revision: 1 })

/** @since 0.1.0 @category hashing */
export const callHash = (call: OutsideCall): bigint =>
  poseidon([CALL_TYPE_HASH, BigInt(call.to), BigInt(call.selector), poseidon(call.calldata.map(BigInt))])

/**
 * The struct hash of an outside execution, in the standard `u128` form or the `felt` fallback form.
 *
 * @since 0.1.0
 * @category hashing
 */
export const structHash = (oe: OutsideExecution, form: "u128" | "felt" = "u128"): bigint =>
  poseidon([
    form === "u128" ? OUTSIDE_EXECUTION_TYPE_HASH : OUTSIDE_EXECUTION_FELT_TYPE_HASH,
    BigInt(oe.caller),
    BigInt(oe.nonce),
    oe.executeAfter,
    oe.executeBefore,
    poseidon(oe.calls.map(callHash))
  ])

/**
 * The message hash the account verifies for `execute_from_outside_v2`:
 * `poseidon("StarkNet Message", domain_hash, account, struct_hash)`.
 *
 * @since 0.1.0
 * @category hashing
 */
export const messageHash = (
  chainId: string | bigint,
  accountAddress: string,
  oe: OutsideExecution,
  form: "u128" | "felt" = "u128"
): Felt => hashWithDomain(domainHash(chainId), accountAddress, oe, form)

const hashWithDomain = (domain: bigint, accountAddress: string, oe: OutsideExecution, form: "u128" | "felt"): Felt =>
  toHex(poseidon([STARKNET_MESSAGE, domain, BigInt(accountAddress), structHash(oe, form)])) as Felt

/**
 * The message hash of typed data as a paymaster returns it, domain included as written (a paymaster that
 * changed the domain gets a hash the account refuses; `Sessions` checks the domain before signing).
 *
 * @since 0.1.0
 * @category hashing
 */
export const typedDataHash = (td: OutsideExecutionTypedData, accountAddress: string): Felt =>
  hashWithDomain(domainHashOf(td.domain), accountAddress, fromTypedData(td).outsideExecution, "u128")

/**
 * The direct-path (`__validate__`) session hash:
 * `poseidon(account, chain_id, tx_nonce, valid_until, for each call: to, selector, calldata_len, calldata...)`.
 *
 * @since 0.1.0
 * @category hashing
 */
export const directSessionHash = (
  accountAddress: string,
  chainId: string | bigint,
  txNonce: bigint,
  validUntil: bigint,
  calls: ReadonlyArray<OutsideCall>
): Felt => {
  const values: Array<bigint> = [
    BigInt(accountAddress),
    typeof chainId === "bigint" ? chainId : typedDataScalar(chainId),
    txNonce,
    validUntil
  ]
  for (const call of calls) {
    values.push(BigInt(call.to), BigInt(call.selector), BigInt(call.calldata.length), ...call.calldata.map(BigInt))
  }
  return toHex(poseidon(values)) as Felt
}

// ---------------------------------------------------------------------------------------------------------------
// Signatures and calldata
// ---------------------------------------------------------------------------------------------------------------

/**
 * The 4-felt session signature `[session_pubkey, r, s, valid_until]`.
 *
 * @since 0.1.0
 * @category signatures
 */
export const sessionSignature = (
  sessionPublicKey: string,
  signature: { readonly r: bigint | string; readonly s: bigint | string },
  validUntil: bigint | number
): ReadonlyArray<Felt> =>
  [sessionPublicKey, signature.r, signature.s, validUntil].map((v) => toHex(BigInt(v)) as Felt)

/**
 * The 2-felt owner signature `[r, s]`.
 *
 * @since 0.1.0
 * @category signatures
 */
export const ownerSignature = (signature: { readonly r: bigint | string; readonly s: bigint | string }): ReadonlyArray<Felt> =>
  [signature.r, signature.s].map((v) => toHex(BigInt(v)) as Felt)

/**
 * Calldata of `add_or_update_session_key`: `[session_key, valid_until, max_calls, n, sel_1 … sel_n]`.
 *
 * @since 0.1.0
 * @category calldata
 */
export const addOrUpdateSessionKeyCalldata = (config: SessionConfig): ReadonlyArray<Felt> => [
  config.sessionPublicKey,
  toHex(BigInt(config.validUntil)) as Felt,
  toHex(BigInt(config.maxCalls)) as Felt,
  toHex(BigInt(config.allowedEntrypoints.length)) as Felt,
  ...config.allowedEntrypoints
]

/** Calldata of `revoke_session_key` and of `get_session_data`: `[session_key]`. @since 0.1.0 @category calldata */
export const sessionKeyCalldata = (sessionPublicKey: Felt): ReadonlyArray<Felt> => [sessionPublicKey]

/**
 * The calldata of a sponsored `execute_from_outside_v2` submission:
 * `[caller, nonce, execute_after, execute_before, n_calls, (to, selector, calldata_len, calldata...)*, sig_len, sig...]`.
 *
 * @since 0.1.0
 * @category calldata
 */
export const executeFromOutsideCalldata = (oe: OutsideExecution, signature: ReadonlyArray<string>): ReadonlyArray<Felt> => {
  const out: Array<Felt> = [
    oe.caller,
    oe.nonce,
    toHex(oe.executeAfter) as Felt,
    toHex(oe.executeBefore) as Felt,
    toHex(BigInt(oe.calls.length)) as Felt
  ]
  for (const call of oe.calls) {
    out.push(call.to, call.selector, toHex(BigInt(call.calldata.length)) as Felt, ...call.calldata)
  }
  out.push(toHex(BigInt(signature.length)) as Felt, ...signature.map((s) => toHex(BigInt(s)) as Felt))
  return out
}

const asFelt = (v: string | bigint): Felt => toHex(BigInt(v)) as Felt

/**
 * Reads a serialized `Array<Call>` (`[n, (to, selector, calldata_len, calldata...)*]`) starting at `from`; answers
 * the calls and the position after them, or `undefined` when malformed.
 *
 * @since 0.1.0
 * @category calldata
 */
export const parseCallArray = (
  calldata: ReadonlyArray<string | bigint>,
  from = 0
): { readonly calls: ReadonlyArray<OutsideCall>; readonly end: number } | undefined => {
  const n = calldata[from]
  if (n === undefined) return undefined
  const calls: Array<OutsideCall> = []
  let i = from + 1
  for (let c = 0n; c < BigInt(n); c++) {
    const [to, selector, len] = [calldata[i], calldata[i + 1], calldata[i + 2]]
    if (to === undefined || selector === undefined || len === undefined || i + 3 + Number(BigInt(len)) > calldata.length) {
      return undefined
    }
    i += 3
    calls.push({ to: asFelt(to), selector: asFelt(selector), calldata: calldata.slice(i, i + Number(BigInt(len))).map(asFelt) })
    i += Number(BigInt(len))
  }
  return { calls, end: i }
}

/**
 * Parses `execute_from_outside_v2` calldata back into the outside execution and the signature (the inverse of
 * `executeFromOutsideCalldata`); `undefined` when malformed.
 *
 * @since 0.1.0
 * @category calldata
 */
export const parseExecuteFromOutsideCalldata = (
  calldata: ReadonlyArray<string>
): { readonly outsideExecution: OutsideExecution; readonly signature: ReadonlyArray<Felt> } | undefined => {
  const [caller, nonce, after, before] = calldata
  if (caller === undefined || nonce === undefined || after === undefined || before === undefined) return undefined
  const parsed = parseCallArray(calldata, 4)
  if (parsed === undefined) return undefined
  const sigLen = calldata[parsed.end]
  if (sigLen === undefined || parsed.end + 1 + Number(BigInt(sigLen)) !== calldata.length) return undefined
  return {
    outsideExecution: {
      caller: toHex(BigInt(caller)) as Felt,
      nonce: toHex(BigInt(nonce)) as Felt,
      executeAfter: BigInt(after),
      executeBefore: BigInt(before),
      calls: parsed.calls
    },
    signature: calldata.slice(parsed.end + 1).map((v) => toHex(BigInt(v)) as Felt)
  }
}

/** The default caller: any relayer may submit. @since 0.1.0 */
export const anyCaller: Felt = ANY_CALLER
