/**
 * The account's own reason in whatever shape a node, a paymaster or a REST API reports a failed execution.
 *
 * The shapes (each with a published source in `test/internal/reason.test.ts`):
 * - a `CONTRACT_EXECUTION_ERROR_INNER` (`@starknet-io/starknet-types-09`, `api/components`): a chain of frames
 *   `{ contract_address, class_hash, selector, error }` whose innermost `error` is a string; SNIP-29 error 156 puts
 *   it in `data`, AVNU wraps it as `{ execution_error: … }`, RPC error 40 as `{ revert_error: … }`, 41 as
 *   `{ transaction_index, execution_error: … }`; any of them may be a plain string instead;
 * - that string, as the sequencer formats a panic: `(0x5365… ('Session: unauthorized selector'), 0x454e…
 *   ('ENTRYPOINT_FAILED'))`, one item without the parentheses, a `ByteArray` (`panic!("…")`) as a double-quoted
 *   item, or its raw serialization (`BYTE_ARRAY_MAGIC`, then the words) when the formatter could not read it;
 *   often after `Execution failed. Failure reason:` and `Error in contract (…):` lines of the call stack.
 */
/** The felt Cairo puts before a serialized `ByteArray` in panic data (`core::byte_array::BYTE_ARRAY_MAGIC`). */
export const BYTE_ARRAY_MAGIC = 0x46a6158a16a947e5916b2a2ca68501a45e93d7110e81aa2d6438b1c57c879a3n

// Starknet appends one of these for every call frame a panic unwinds through; the cause comes before them.
// `argent/multicall-failed` (and its index felt) wraps the failing call's own reason, which follows it.
const FRAME_MARKERS = new Set(["ENTRYPOINT_FAILED", "CONSTRUCTOR_FAILED", "argent/multicall-failed"])
const MAX_DEPTH = 64
const BYTES_IN_WORD = 31

/**
 * Decodes a serialized `ByteArray` (`data_len`, that many 31-byte words, `pending_word`, `pending_word_len`) from
 * the start of `felts`; `undefined` when they are not one.
 */
export const decodeByteArray = (felts: ReadonlyArray<bigint>): { readonly text: string; readonly used: number } | undefined => {
  const len = felts[0]
  if (len === undefined || len > BigInt(felts.length)) return undefined
  const words = Number(len)
  const pending = felts[1 + words]
  const pendingLen = felts[2 + words]
  if (pending === undefined || pendingLen === undefined || pendingLen >= BigInt(BYTES_IN_WORD)) return undefined
  const bytes: Array<number> = []
  const push = (word: bigint, size: number) => {
    if (word >= 1n << BigInt(8 * size)) return false
    for (let i = size - 1; i >= 0; i--) bytes.push(Number((word >> BigInt(8 * i)) & 0xffn))
    return true
  }
  for (let i = 0; i < words; i++) if (!push(felts[1 + i]!, BYTES_IN_WORD)) return undefined
  if (!push(pending, Number(pendingLen))) return undefined
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes)), used: words + 3 }
  } catch {
    return undefined
  }
}

/** The innermost text of an execution error: the leaf of its frames, whichever wrapper holds them. */
export const innermostText = (data: unknown, depth = 0): string | undefined => {
  if (depth > MAX_DEPTH) return undefined
  if (typeof data === "string") return data
  // Raw panic data, as some tools report it: read as the sequencer's formatting of those felts would be.
  if (Array.isArray(data)) return data.every((x) => typeof x === "string") ? `(${data.join(", ")})` : undefined
  if (typeof data === "object" && data !== null) {
    const d = data as Record<string, unknown>
    for (const key of ["execution_error", "revert_error", "revert_reason", "error"]) {
      if (d[key] !== undefined) return innermostText(d[key], depth + 1)
    }
  }
  return undefined
}

interface Item {
  readonly felt?: bigint
  readonly text?: string
}

// One formatted panic item: a felt with its short string, a bare felt, or a ByteArray in double quotes.
const ITEM = /0x([0-9a-fA-F]+)(?: \('(.*?)'\))?|"((?:[^"\\]|\\.)*)"/g
const FRAME_HEADER = /Error in (?:the called )?contract \([^)]*\):/g
const QUOTED_SHORT = /\('(.*?)'\)/g
const RUST_MESSAGE = /Message\("((?:[^"\\]|\\.)*)"\)/g

const panicPart = (text: string): string => {
  const at = text.lastIndexOf("Failure reason:")
  const tail = at >= 0 ? text.slice(at + "Failure reason:".length) : text
  // An escaped message (a Rust `Debug` of the error, as some paymasters relay it) keeps its `\n` as two characters.
  return tail.replace(FRAME_HEADER, "").replace(/^(?:\\n|\s)+/, "")
}

// A quoted ByteArray as JSON writes it (the devnet), else as the sequencer does (no escapes but `\"`).
const unquote = (body: string): string => {
  try {
    return JSON.parse(`"${body}"`) as string
  } catch {
    return body.replace(/\\"/g, "\"")
  }
}

const items = (part: string): Array<Item> =>
  [...part.matchAll(ITEM)].map((m) =>
    m[3] !== undefined
      ? { text: unquote(m[3]) }
      : { felt: BigInt("0x" + m[1]!), ...(m[2] !== undefined ? { text: m[2] } : {}) }
  )

const firstReason = (found: ReadonlyArray<Item>): string | undefined => {
  let marker: string | undefined
  for (let i = 0; i < found.length; i++) {
    const item = found[i]!
    let text = item.text
    if (item.felt === BYTE_ARRAY_MAGIC && text === undefined) {
      const felts: Array<bigint> = []
      for (const next of found.slice(i + 1)) {
        if (next.felt === undefined) break
        felts.push(next.felt)
      }
      const decoded = decodeByteArray(felts)
      if (decoded !== undefined) {
        text = decoded.text
        i += decoded.used
      }
    }
    if (text === undefined || text === "") continue
    if (FRAME_MARKERS.has(text)) {
      marker ??= text
      continue
    }
    return text
  }
  return marker
}

/**
 * The reason a formatted execution error carries: the first short string or `ByteArray` of its innermost panic
 * data that is not a call-stack marker. `undefined` when the text quotes no panic data (a plain message).
 */
export const reasonIn = (text: string): string | undefined => {
  // A Rust `Debug` of starknet-rs's `ContractExecutionError` (AVNU's 156 string): the innermost `Message("…")`
  // holds the sequencer's formatting, its quotes and backslashes escaped.
  const debug = [...text.matchAll(RUST_MESSAGE)].at(-1)
  if (debug !== undefined) {
    const inner = reasonIn(debug[1]!.replace(/\\(.)/g, "$1"))
    if (inner !== undefined) return inner
  }
  const part = panicPart(text).trim()
  if (/^\(?\s*(?:0x[0-9a-fA-F]|")/.test(part)) {
    const reason = firstReason(items(part))
    if (reason !== undefined) return reason
  }
  // Quoted short strings elsewhere (an unusual wrapper around the trace): the first that is not a marker.
  const quoted = [...text.matchAll(QUOTED_SHORT)].map((m) => m[1]!).filter((s) => s !== "")
  return quoted.find((s) => !FRAME_MARKERS.has(s)) ?? quoted[0]
}

/**
 * The account's revert reason in an execution error's `data` (any shape above): the quoted reason when there is
 * one, else the innermost message itself, trimmed of the stack's punctuation.
 */
export const revertReasonOf = (data: unknown): string | undefined => {
  const text = innermostText(data)
  if (text === undefined) return undefined
  return reasonIn(text) ?? (text.trim().replace(/\.$/, "").trim() || undefined)
}

const PRINTABLE = /^[\x20-\x7e]+$/

/**
 * The reason in a failed call's raw panic data (a trace's `result` for a call its caller caught): a serialized
 * `ByteArray`, or the first printable short string that is not a call-stack marker.
 */
export const panicReason = (felts: ReadonlyArray<bigint>): string | undefined => {
  const found: Array<Item> = []
  for (const felt of felts) {
    let text: string | undefined
    if (felt !== BYTE_ARRAY_MAGIC && felt > 0n && felt < 1n << 248n) {
      let s = ""
      for (let v = felt; v > 0n; v >>= 8n) s = String.fromCharCode(Number(v & 0xffn)) + s
      if (PRINTABLE.test(s)) text = s
    }
    found.push({ felt, ...(text !== undefined ? { text } : {}) })
  }
  return firstReason(found)
}
