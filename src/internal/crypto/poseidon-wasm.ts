/**
 * Starknet's Poseidon permutation in WebAssembly, the module written out here instruction by instruction (no
 * binary, no build step): field elements as eight 32-bit limbs held in 64-bit integers, Montgomery multiplication
 * (R = 2^256) and the same specialised rounds as `poseidon.ts` (the S-box x^3, the matrix as additions, one
 * constant per partial round, with the constants given by that module).
 *
 * The prime p = 2^251 + 17·2^192 + 1 is 1 modulo 2^192, so -p⁻¹ mod 2^32 is -1 and each Montgomery reduction step
 * adds m·p with m = -t₀ mod 2^32: three additions (to limbs 0, 6 and 7), not a row of multiplications, fused into
 * the row of the product (see `mulBody`). Values are kept reduced only as far as the next step needs: a product is
 * below 1.8p, the matrix's output below 4p (`mixBody`), a sum below 4.8p (one conditional subtraction), and each of
 * these is a valid input to the multiplication (below 5p); the results are reduced to [0, p) as they are read
 * (`canonBody`).
 *
 * Memory (one 64 KiB page, the module's own): the constants, the sponge's three elements (Montgomery form), and an
 * input area that JavaScript fills with plain felts (little-endian, 32 bytes each) for `absorb`; results are read
 * back as plain felts. The module's work is checked against @scure/starknet by `poseidon.ts` before its first use.
 */

const P = 2n ** 251n + 17n * 2n ** 192n + 1n
const R = 2n ** 256n
const mod = (a: bigint) => ((a % P) + P) % P

// Memory layout (byte offsets).
const R2_AT = 0 // R^2 mod p, plain
const ONE_AT = 32 // 1, plain
const S0 = 96
const S1 = 128
const S2 = 160
const T = 192
const U = 224
const ZERO_AT = 64 // 0, for the rounds that add no constant to an element
const FULL_AT = 256 // 8 rounds × 3 constants
const PARTIAL_AT = FULL_AT + 8 * 3 * 32 // 83 constants
const PARTIAL_END = PARTIAL_AT + 83 * 32
const OUT_AT = 4096 // 3 plain felts
const IN_AT = 8192
/** Felts `absorb` takes in one call (the input area, to the end of the page). */
export const CHUNK = (65536 - IN_AT) / 32

// ---- a few opcodes, and their operands' encodings ----
const uleb = (n: number): Array<number> => {
  const out: Array<number> = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}
const sleb = (v: bigint): Array<number> => {
  const out: Array<number> = []
  for (;;) {
    const byte = Number(v & 0x7fn)
    v >>= 7n
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)
    out.push(done ? byte : byte | 0x80)
    if (done) return out
  }
}
type Code = Array<number>
const I32 = 0x7f
const I64 = 0x7e
const get = (i: number): Code => [0x20, ...uleb(i)]
const set = (i: number): Code => [0x21, ...uleb(i)]
const i32 = (v: number): Code => [0x41, ...sleb(BigInt(v))]
const i64 = (v: bigint): Code => [0x42, ...sleb(v)]
const op = {
  i32Add: 0x6a,
  i32GeU: 0x4f,
  i32Wrap: 0xa7,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64And: 0x83,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i64ShrS: 0x87,
  i64GtS: 0x55,
  i64Ne: 0x52,
  i64ExtendI32U: 0xad,
  select: 0x1b,
  call: 0x10,
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  void: 0x40
} as const
/** `i64.load32_u` of the limb at `offset` from the pointer in local `ptr`. */
const loadLimb = (ptr: number, offset: number): Code => [...get(ptr), 0x35, 2, ...uleb(offset)]
/** `i64.store32` of `value` to the limb at `offset` from the pointer in local `ptr`. */
const storeLimb = (ptr: number, offset: number, value: Code): Code => [...get(ptr), ...value, 0x3e, 2, ...uleb(offset)]
const MASK = i64(0xffffffffn)
/** `x = value; low = x & M; carry = x >> 32` */
const split = (value: Code, x: number, low: number, carry: number): Code => [
  ...value,
  0x22,
  ...uleb(x), // local.tee x
  ...MASK,
  op.i64And,
  ...set(low),
  ...get(x),
  ...i64(32n),
  op.i64ShrU,
  ...set(carry)
]
const add64 = (...terms: Array<Code>): Code => terms.flatMap((t, i) => (i === 0 ? t : [...t, op.i64Add]))

/** p's limbs: 1, 0, 0, 0, 0, 0, 17, 2^27. */
const P_LIMBS = [1n, 0n, 0n, 0n, 0n, 0n, 17n, 1n << 27n]

/**
 * `t - p` limb by limb into `u` with `borrow`, then to `d` whichever of t and t - p is in [0, p). `t`, `u` are the
 * first local of eight; `x` and `borrow` are scratch locals.
 */
const reduceInto = (d: number, t: number, u: number, x: number, borrow: number): Code => {
  const code: Code = []
  for (let j = 0; j < 8; j++) {
    const value = [...get(t + j)]
    if (P_LIMBS[j] !== 0n) value.push(...i64(P_LIMBS[j]!), op.i64Sub)
    if (j > 0) value.push(...get(borrow), op.i64Sub)
    code.push(...value, 0x22, ...uleb(x), ...MASK, op.i64And, ...set(u + j), ...get(x), ...i64(63n), op.i64ShrU, ...set(borrow))
  }
  // borrow = 1: t < p, keep t.
  for (let j = 0; j < 8; j++) code.push(...storeLimb(d, 4 * j, [...get(t + j), ...get(u + j), ...get(borrow), op.i32Wrap, op.select]))
  return code
}

/**
 * mul(d, a, b): d = a·b·R⁻¹ mod p, for a, b below 5p; d is below 1.8p (not always reduced: `mix` and `canon` do
 * that). Montgomery's multiplication row by row, each row's reduction fused into its product: m·p adds to limbs 0,
 * 6 and 7 only, so limbs 1 to 5 carry one product each, as a plain product would. Every 64-bit sum stays below
 * 2^64: a carry is at most 2^32 - 1 where a full product joins it, and the top limbs of inputs below 5p are below 2^30.
 * Locals: a 3-10, t 11-19, C 20, m 21, b_i 22, x 23, y 24.
 */
const mulBody = (): { locals: number; code: Code } => {
  const [d, a, b] = [0, 1, 2]
  const A = 3, Tl = 11, C = 20, M = 21, BI = 22, X = 23, Y = 24
  const product = (j: number): Code => [...get(A + j), ...get(BI), op.i64Mul]
  const code: Code = []
  for (let j = 0; j < 8; j++) code.push(...loadLimb(a, 4 * j), ...set(A + j))
  for (let i = 0; i < 8; i++) {
    code.push(...loadLimb(b, 4 * i), ...set(BI))
    // x = t0 + a0·bi; m = -x mod 2^32; x + m leaves x >> 32, plus 1 when its low half was not 0.
    code.push(...add64(get(Tl), product(0)), 0x22, ...uleb(X), ...MASK, op.i64And, ...set(Y))
    code.push(...i64(0n), ...get(Y), op.i64Sub, ...MASK, op.i64And, ...set(M))
    code.push(...get(X), ...i64(32n), op.i64ShrU, ...get(Y), ...i64(0n), op.i64Ne, op.i64ExtendI32U, op.i64Add, ...set(C))
    // Limbs 1 to 5, shifted down one.
    for (let j = 1; j < 6; j++) code.push(...split(add64(get(Tl + j), product(j), get(C)), X, Tl + j - 1, C))
    // Limb 6 takes 17m besides, added to its low half so that nothing overflows.
    code.push(...add64(get(Tl + 6), product(6), get(C)), 0x22, ...uleb(X), ...MASK, op.i64And)
    code.push(...get(M), ...i64(17n), op.i64Mul, op.i64Add, 0x22, ...uleb(Y), ...MASK, op.i64And, ...set(Tl + 5))
    code.push(...get(X), ...i64(32n), op.i64ShrU, ...get(Y), ...i64(32n), op.i64ShrU, op.i64Add, ...set(C))
    // Limb 7 takes m·2^27 (a_7 is below 2^30, so its product leaves room).
    code.push(...split(add64(get(Tl + 7), product(7), get(C), [...get(M), ...i64(27n), op.i64Shl]), X, Tl + 6, C))
    code.push(...split(add64(get(Tl + 8), get(C)), X, Tl + 7, Tl + 8))
  }
  for (let j = 0; j < 8; j++) code.push(...storeLimb(d, 4 * j, get(Tl + j)))
  return { locals: 22, code }
}

/**
 * add(d, a, b): a + b, less p when that is at least p (a sum below 5.8p gives below 4.8p). Locals: t 3-10, u 11-18,
 * x 19, C 20, borrow 21.
 */
const addBody = (): { locals: number; code: Code } => {
  const [d, a, b] = [0, 1, 2]
  const Tl = 3, Ul = 11, X = 19, C = 20, BORROW = 21
  const code: Code = []
  for (let j = 0; j < 8; j++) {
    const sum = add64(loadLimb(a, 4 * j), loadLimb(b, 4 * j))
    code.push(...split(j === 0 ? sum : add64(sum, get(C)), X, Tl + j, C))
  }
  code.push(...reduceInto(d, Tl, Ul, X, BORROW))
  return { locals: 19, code }
}

/**
 * mix(k0, k1, k2): the matrix on S0, S1, S2, then the next round's constants added, in one pass per element:
 * s0' = 3s0 + s1 + s2 + k0, s1' = s0 - s1 + s2 + k1 (+ 4p), s2' = s0 + s1 - 2s2 + k2 (+ 8p), each limb summed
 * without carries (signed, below 2^37 in size). For inputs below 4p each sum w is in [0, 21p); q, read from its top
 * limb alone, is ⌊w / 2^251⌋ give or take one, so w - (q - 2)·p (or w itself when q ≤ 2) lies in [0, 4p), and one
 * carry pass, shifting arithmetically, normalises it. Outputs are below 4p again, as `mul` takes them. Locals: s
 * 3-26, w 27-34, x 35, C 36, q 37.
 */
const mixBody = (): { locals: number; code: Code } => {
  const K = [0, 1, 2]
  const S = 3, W = 27, X = 35, C = 36, Q = 37
  const code: Code = []
  for (let i = 0; i < 3; i++) for (let j = 0; j < 8; j++) code.push(...i32(S0 + 32 * i), 0x35, 2, ...uleb(4 * j), ...set(S + 8 * i + j))
  const s = (i: number, j: number) => get(S + 8 * i + j)
  // Coefficients of s0, s1, s2, and the multiple of p that keeps each sum non-negative.
  const rows: ReadonlyArray<readonly [readonly [number, number, number], bigint]> = [[[3, 1, 1], 0n], [[1, -1, 1], 4n], [[1, 1, -2], 8n]]
  rows.forEach(([coefficients, multiple], out) => {
    for (let j = 0; j < 8; j++) {
      const value: Code = [...loadLimb(K[out]!, 4 * j)]
      coefficients.forEach((k, i) => {
        const term = Math.abs(k) === 1 ? s(i, j) : [...s(i, j), ...i64(BigInt(Math.abs(k))), op.i64Mul]
        value.push(...term, k > 0 ? op.i64Add : op.i64Sub)
      })
      const extra = multiple * P_LIMBS[j]!
      if (extra !== 0n) value.push(...i64(extra), op.i64Add)
      code.push(...value, ...set(W + j))
    }
    // q = max(⌊top / 2^27⌋ - 2, 0); p's limbs: 1 at 0, 17 at 6, 2^27 at 7.
    code.push(...get(W + 7), ...i64(27n), op.i64ShrS, ...i64(2n), op.i64Sub, ...set(Q))
    code.push(...get(Q), ...i64(0n), ...get(Q), ...i64(0n), op.i64GtS, op.select, ...set(Q))
    for (let j = 0; j < 8; j++) {
      const value: Code = [...get(W + j)]
      if (j === 0) value.push(...get(Q), op.i64Sub)
      if (j === 6) value.push(...get(Q), ...i64(17n), op.i64Mul, op.i64Sub)
      if (j === 7) value.push(...get(Q), ...i64(27n), op.i64Shl, op.i64Sub)
      if (j > 0) value.push(...get(C), op.i64Add)
      code.push(...i32(S0 + 32 * out), ...value, 0x22, ...uleb(X), ...MASK, op.i64And, 0x3e, 2, ...uleb(4 * j))
      code.push(...get(X), ...i64(32n), op.i64ShrS, ...set(C))
    }
  })
  return { locals: 35, code }
}

/** canon(d): d mod p in place, for d below 2p. Locals: t 1-8, u 9-16, x 17, borrow 18. */
const canonBody = (): { locals: number; code: Code } => {
  const d = 0, Tl = 1, Ul = 9, X = 17, BORROW = 18
  const code: Code = []
  for (let j = 0; j < 8; j++) code.push(...loadLimb(d, 4 * j), ...set(Tl + j))
  code.push(...reduceInto(d, Tl, Ul, X, BORROW))
  return { locals: 18, code }
}

// Function indices.
const MUL = 0, ADD = 1, PERMUTE = 2, MIX = 6, CANON = 7
const call3 = (fn: number, d: Code, a: Code, b: Code): Code => [...d, ...a, ...b, op.call, fn]
const c = (n: number) => i32(n)

const cube = (s: Code): Code => [...call3(MUL, c(T), s, s), ...call3(MUL, s, c(T), s)]
const fullAt = (r: number) => [FULL_AT + 96 * r, FULL_AT + 96 * r + 32, FULL_AT + 96 * r + 64] as const
const mix = (k: readonly [number, number, number]): Code => [...c(k[0]), ...c(k[1]), ...c(k[2]), op.call, MIX]
/** A full round whose constants are already added; `next` are those of the round after it. */
const fullRound = (next: readonly [number, number, number]): Code => [...cube(c(S0)), ...cube(c(S1)), ...cube(c(S2)), ...mix(next)]

/** permute(): the sponge's state, in place. Local 0: the partial round's constant pointer. */
const permuteBody = (): { locals: number; code: Code; params: 0 } => {
  const K = 0
  const code: Code = []
  const first = fullAt(0)
  code.push(...call3(ADD, c(S0), c(S0), c(first[0])), ...call3(ADD, c(S1), c(S1), c(first[1])), ...call3(ADD, c(S2), c(S2), c(first[2])))
  for (let r = 0; r < 3; r++) code.push(...fullRound(fullAt(r + 1)))
  code.push(...fullRound([ZERO_AT, ZERO_AT, PARTIAL_AT]))
  // Partial rounds: the S-box of the last element, then the matrix with the next round's constant (the first full
  // round's after the last).
  code.push(...i32(PARTIAL_AT + 32), ...set(K))
  code.push(op.loop, op.void)
  code.push(...cube(c(S2)), ...c(ZERO_AT), ...c(ZERO_AT), ...get(K), op.call, MIX)
  code.push(...get(K), ...i32(32), op.i32Add, 0x22, ...uleb(K), ...i32(PARTIAL_END), 0x49 /* i32.lt_u */, op.brIf, 0, op.end)
  code.push(...cube(c(S2)), ...mix(fullAt(4)))
  for (let r = 4; r < 7; r++) code.push(...fullRound(fullAt(r + 1)))
  code.push(...fullRound([ZERO_AT, ZERO_AT, ZERO_AT]))
  return { locals: 1, code, params: 0 }
}

/** absorb(n): n (even) plain felts from the input area, two at a time: into S0 and S1, then the permutation. */
const absorbBody = (): Code => {
  const N = 0, I = 1, END = 2
  return [
    ...i32(IN_AT), ...set(I),
    ...get(N), ...i32(32), 0x6c /* i32.mul */, ...i32(IN_AT), op.i32Add, ...set(END),
    op.block, op.void, op.loop, op.void,
    ...get(I), ...get(END), op.i32GeU, op.brIf, 1,
    ...call3(MUL, c(T), get(I), c(R2_AT)),
    ...call3(ADD, c(S0), c(S0), c(T)),
    ...call3(MUL, c(T), [...get(I), ...i32(32), op.i32Add], c(R2_AT)),
    ...call3(ADD, c(S1), c(S1), c(T)),
    op.call, PERMUTE,
    ...get(I), ...i32(64), op.i32Add, ...set(I),
    op.br, 0, op.end, op.end
  ]
}
/** load(): the state from the first three felts of the input area. store(): the state to the output area. */
const loadBody = (): Code => [0, 1, 2].flatMap((k) => call3(MUL, c(S0 + 32 * k), c(IN_AT + 32 * k), c(R2_AT)))
const storeBody = (): Code =>
  [0, 1, 2].flatMap((k) => [...call3(MUL, c(OUT_AT + 32 * k), c(S0 + 32 * k), c(ONE_AT)), ...c(OUT_AT + 32 * k), op.call, CANON])

const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body]
const vec = (items: Array<Code>): Code => [...uleb(items.length), ...items.flat()]
const name = (s: string): Code => vec([...s].map((ch) => [ch.charCodeAt(0)]))
const fnCode = (locals: Array<[number, number]>, body: Code): Code => {
  const f = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, op.end]
  return [...uleb(f.length), ...f]
}

/** The module's bytes. */
export const moduleBytes = (): Uint8Array => {
  const mul = mulBody(), add = addBody(), perm = permuteBody(), mixer = mixBody(), canon = canonBody()
  const types = section(1, vec([
    [0x60, ...vec([[I32], [I32], [I32]]), ...vec([])], // (d, a, b) -> ()
    [0x60, ...vec([]), ...vec([])], // () -> ()
    [0x60, ...vec([[I32]]), ...vec([])] // (n) -> ()
  ]))
  // mul, add, permute, absorb, load, store, mix, canon
  const functions = section(3, vec([[0], [0], [1], [2], [1], [1], [0], [2]]))
  const memory = section(5, vec([[0x00, 1]]))
  const exports = section(7, vec([
    [...name("memory"), 0x02, 0],
    [...name("permute"), 0x00, PERMUTE],
    [...name("absorb"), 0x00, 3],
    [...name("load"), 0x00, 4],
    [...name("store"), 0x00, 5]
  ]))
  const code = section(10, vec([
    fnCode([[mul.locals, I64]], mul.code),
    fnCode([[add.locals, I64]], add.code),
    fnCode([[perm.locals, I32]], perm.code),
    fnCode([[2, I32]], absorbBody()),
    fnCode([], loadBody()),
    fnCode([], storeBody()),
    fnCode([[mixer.locals, I64]], mixer.code),
    fnCode([[canon.locals, I64]], canon.code)
  ]))
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...functions, ...memory, ...exports, ...code])
}

/** What is used of the global `WebAssembly` (Node's types do not declare it all). */
interface WebAssemblyApi {
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object) => { readonly exports: Record<string, unknown> }
}

export interface WasmPoseidon {
  readonly permute: (a: bigint, b: bigint, c: bigint) => [bigint, bigint, bigint]
  /** The sponge after absorbing `values` (even length) into `state`, no padding. */
  readonly absorb: (state: readonly [bigint, bigint, bigint], values: ReadonlyArray<bigint>) => [bigint, bigint, bigint]
  /** `poseidonHashMany(prefix ++ values)` from the state after the prefix (padding 1 then 0 to an even length). */
  readonly hashManyFrom: (state: readonly [bigint, bigint, bigint], values: ReadonlyArray<bigint>) => bigint
}

/**
 * The module instantiated with the round constants (`full`: eight rows of three, `partial`: one per partial round,
 * as `poseidon.ts` derives them), or `undefined` where WebAssembly is not available or refuses the module.
 */
export const instantiate = (
  full: ReadonlyArray<readonly [bigint, bigint, bigint]>,
  partial: ReadonlyArray<bigint>
): WasmPoseidon | undefined => {
  const api = (globalThis as { readonly WebAssembly?: WebAssemblyApi }).WebAssembly
  if (api === undefined) return undefined
  let exports: Record<string, unknown>
  try {
    exports = new api.Instance(new api.Module(moduleBytes())).exports
  } catch {
    return undefined
  }
  const memory = exports["memory"] as { readonly buffer: ArrayBuffer }
  const permuteState = exports["permute"] as () => void
  const absorbIn = exports["absorb"] as (n: number) => void
  const load = exports["load"] as () => void
  const store = exports["store"] as () => void
  const view = new DataView(memory.buffer)
  const write = (at: number, x: bigint) => {
    if (x < 0n || x >= P) x = mod(x)
    view.setBigUint64(at, x, true)
    view.setBigUint64(at + 8, x >> 64n, true)
    view.setBigUint64(at + 16, x >> 128n, true)
    view.setBigUint64(at + 24, x >> 192n, true)
  }
  const read = (at: number): bigint =>
    view.getBigUint64(at, true) | (view.getBigUint64(at + 8, true) << 64n) | (view.getBigUint64(at + 16, true) << 128n) |
    (view.getBigUint64(at + 24, true) << 192n)
  const montgomery = (x: bigint) => mod(x * R)
  write(R2_AT, mod(R * R))
  write(ONE_AT, 1n)
  full.forEach((row, r) => row.forEach((k, i) => write(FULL_AT + 96 * r + 32 * i, montgomery(k))))
  partial.forEach((k, r) => write(PARTIAL_AT + 32 * r, montgomery(k)))

  const loadState = (a: bigint, b: bigint, c: bigint) => {
    write(IN_AT, a)
    write(IN_AT + 32, b)
    write(IN_AT + 64, c)
    load()
  }
  /** Absorbs `values`, then (when `pad`) the padding 1 and, for an even count, 0. */
  const absorbAll = (values: ReadonlyArray<bigint>, pad: boolean) => {
    const n = values.length
    const total = pad ? n + 2 - (n % 2) : n
    for (let from = 0; from < total; from += CHUNK) {
      const to = Math.min(total, from + CHUNK)
      for (let i = from; i < to; i++) write(IN_AT + 32 * (i - from), i < n ? values[i]! : i === n ? 1n : 0n)
      absorbIn(to - from)
    }
  }
  const readState = (): [bigint, bigint, bigint] => {
    store()
    return [read(OUT_AT), read(OUT_AT + 32), read(OUT_AT + 64)]
  }
  return {
    permute: (a, b, c) => {
      loadState(a, b, c)
      permuteState()
      return readState()
    },
    absorb: (state, values) => {
      loadState(state[0], state[1], state[2])
      absorbAll(values, false)
      return readState()
    },
    hashManyFrom: (state, values) => {
      loadState(state[0], state[1], state[2])
      absorbAll(values, true)
      store()
      return read(OUT_AT)
    }
  }
}
