/**
 * Writes a tiny, deterministic GGUF (v3) model for tests of the `llama-cpp` backend.
 *
 * Architecture `llama`, F32 tensors, an SPM ("llama") vocabulary of <unk>, <s>, </s>, the 256
 * byte tokens <0x00>..<0xFF> and a few whole-word tokens. Every layer contributes exactly zero
 * (attention output and FFN down projections are zero), so the residual stream carries the
 * one-hot token embedding straight to `output.weight`, which is a next-token table: the logit
 * of `next(t)` is large for input token `t`, every other logit is 0. Each position therefore
 * predicts from its own token only, and greedy (or even temperature-1) decoding after any
 * prompt whose last token is not part of the script yields exactly SCRIPT_TEXT, then </s>.
 *
 * The script ends with "。" spelled as three byte tokens (E3 80 82), so a streaming consumer
 * that chunks per token would emit broken UTF-8: this is what the UTF-8-safety test exercises.
 *
 * Format: magic "GGUF", version, tensor count, KV count, the KVs, the tensor infos, padding to
 * `general.alignment` (32), then the tensor data, each tensor's offset aligned to 32.
 * Dimensions are in ggml order (ne0 = the contiguous one): a [n_embd, n_vocab] matrix is stored
 * as n_vocab rows of n_embd floats.
 */
import fs from 'node:fs';

/** What greedy decoding produces, whatever the (non-script-ending) prompt. */
export const SCRIPT_TEXT = 'Sekisho guards the 関所。';
/** Word tokens of the script, then the bytes of "。". */
const WORDS = ['Sekisho', '▁guards', '▁the', '▁関所'] as const;
/** Extra normal tokens outside the script: "▁" lets prompt spaces round-trip (SPM escapes ' ' as '▁'). */
const EXTRA = ['▁'] as const;
const TAIL_BYTES = [0xe3, 0x80, 0x82] as const;
/** Number of tokens the model generates for SCRIPT_TEXT (excluding </s>). */
export const SCRIPT_TOKENS = WORDS.length + TAIL_BYTES.length;

const UNK = 0;
const BOS = 1;
const EOS = 2;
const BYTE0 = 3;
const N_VOCAB = BYTE0 + 256 + WORDS.length + EXTRA.length; // 264
const N_EMBD = 320; // >= N_VOCAB so embeddings can be one-hot; 5 heads of 64
const N_HEAD = 5;
const N_FF = 64;
const N_LAYER = 1;
const ALIGN = 32;
/** Logit of the scripted next token (after RMS norm the one-hot entry is sqrt(N_EMBD) ≈ 17.9). */
const NEXT_WEIGHT = 4;

// GGUF value types
const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_BOOL = 7;
const T_STRING = 8;
const T_ARRAY = 9;
const GGML_TYPE_F32 = 0;

type Value =
  | { t: 'u32'; v: number }
  | { t: 'f32'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'str'; v: string }
  | { t: 'strs'; v: string[] }
  | { t: 'f32s'; v: number[] }
  | { t: 'i32s'; v: number[] };

/** Little-endian byte writer. */
class Out {
  private parts: Buffer[] = [];
  length = 0;
  private push(b: Buffer) {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }
  i32(n: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }
  u64(n: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }
  f32(n: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  bytes(b: Buffer) {
    this.push(b);
  }
  pad(align: number) {
    const n = (align - (this.length % align)) % align;
    if (n) this.push(Buffer.alloc(n));
  }
  buffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function writeValue(o: Out, val: Value) {
  switch (val.t) {
    case 'u32':
      o.u32(T_UINT32), o.u32(val.v);
      break;
    case 'f32':
      o.u32(T_FLOAT32), o.f32(val.v);
      break;
    case 'bool':
      o.u32(T_BOOL), o.bytes(Buffer.from([val.v ? 1 : 0]));
      break;
    case 'str':
      o.u32(T_STRING), o.str(val.v);
      break;
    case 'strs':
      o.u32(T_ARRAY), o.u32(T_STRING), o.u64(val.v.length);
      for (const s of val.v) o.str(s);
      break;
    case 'f32s':
      o.u32(T_ARRAY), o.u32(T_FLOAT32), o.u64(val.v.length);
      for (const n of val.v) o.f32(n);
      break;
    case 'i32s':
      o.u32(T_ARRAY), o.u32(T_INT32), o.u64(val.v.length);
      for (const n of val.v) o.i32(n);
      break;
  }
}

interface Tensor {
  name: string;
  /** ggml order: dims[0] is the contiguous dimension. */
  dims: number[];
  data: Float32Array;
}

const byteToken = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** The scripted token ids, in order. */
function scriptIds(): number[] {
  return [...WORDS.map((_, i) => BYTE0 + 256 + i), ...TAIL_BYTES.map((b) => BYTE0 + b)];
}

function buildTensors(loop: boolean): Tensor[] {
  const zeros = (...dims: number[]): Tensor['data'] => new Float32Array(dims.reduce((a, b) => a * b, 1));
  const ones = (n: number) => new Float32Array(n).fill(1);

  // token_embd: row t (N_EMBD floats) is the one-hot vector e_t.
  const embd = zeros(N_EMBD, N_VOCAB);
  for (let t = 0; t < N_VOCAB; t++) embd[t * N_EMBD + t] = 1;

  // output.weight: row j holds the weights of logit j over the hidden state; set
  // row next(t), column t. Default successor: the first script token; script tokens chain.
  const ids = scriptIds();
  const next = new Array<number>(N_VOCAB).fill(ids[0]!);
  ids.forEach((id, i) => (next[id] = i + 1 < ids.length ? ids[i + 1]! : loop ? ids[0]! : EOS));
  const out = zeros(N_EMBD, N_VOCAB);
  for (let t = 0; t < N_VOCAB; t++) out[next[t]! * N_EMBD + t] = NEXT_WEIGHT;

  const tensors: Tensor[] = [
    { name: 'token_embd.weight', dims: [N_EMBD, N_VOCAB], data: embd },
    { name: 'output_norm.weight', dims: [N_EMBD], data: ones(N_EMBD) },
    { name: 'output.weight', dims: [N_EMBD, N_VOCAB], data: out },
  ];
  for (let l = 0; l < N_LAYER; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      { name: p + 'attn_norm.weight', dims: [N_EMBD], data: ones(N_EMBD) },
      { name: p + 'attn_q.weight', dims: [N_EMBD, N_EMBD], data: zeros(N_EMBD, N_EMBD) },
      { name: p + 'attn_k.weight', dims: [N_EMBD, N_EMBD], data: zeros(N_EMBD, N_EMBD) },
      { name: p + 'attn_v.weight', dims: [N_EMBD, N_EMBD], data: zeros(N_EMBD, N_EMBD) },
      { name: p + 'attn_output.weight', dims: [N_EMBD, N_EMBD], data: zeros(N_EMBD, N_EMBD) },
      { name: p + 'ffn_norm.weight', dims: [N_EMBD], data: ones(N_EMBD) },
      { name: p + 'ffn_gate.weight', dims: [N_EMBD, N_FF], data: zeros(N_EMBD, N_FF) },
      { name: p + 'ffn_up.weight', dims: [N_EMBD, N_FF], data: zeros(N_EMBD, N_FF) },
      { name: p + 'ffn_down.weight', dims: [N_FF, N_EMBD], data: zeros(N_FF, N_EMBD) },
    );
  }
  return tensors;
}

/** A minimal ChatML-style template, so the backend exercises the model's own chat template. */
const CHAT_TEMPLATE =
  "{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

export interface TinyGgufOptions {
  /** Repeat the script forever instead of ending with </s> (for abort and max_tokens tests). */
  loop?: boolean;
}

export function ggufBytes(opts: TinyGgufOptions = {}): Buffer {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // unknown, control, control
  for (let b = 0; b < 256; b++) tokens.push(byteToken(b)), types.push(6); // byte
  for (const w of [...WORDS, ...EXTRA]) tokens.push(w), types.push(1); // normal
  const scores = tokens.map((_, i) => (i < BYTE0 + 256 ? 0 : -1));

  const kv: [string, Value][] = [
    ['general.architecture', { t: 'str', v: 'llama' }],
    ['general.name', { t: 'str', v: 'sekisho-test-tiny' }],
    ['general.alignment', { t: 'u32', v: ALIGN }],
    ['llama.context_length', { t: 'u32', v: 512 }],
    ['llama.embedding_length', { t: 'u32', v: N_EMBD }],
    ['llama.block_count', { t: 'u32', v: N_LAYER }],
    ['llama.feed_forward_length', { t: 'u32', v: N_FF }],
    ['llama.attention.head_count', { t: 'u32', v: N_HEAD }],
    ['llama.attention.head_count_kv', { t: 'u32', v: N_HEAD }],
    ['llama.attention.layer_norm_rms_epsilon', { t: 'f32', v: 1e-5 }],
    ['llama.rope.dimension_count', { t: 'u32', v: N_EMBD / N_HEAD }],
    ['llama.vocab_size', { t: 'u32', v: N_VOCAB }],
    ['tokenizer.ggml.model', { t: 'str', v: 'llama' }],
    ['tokenizer.ggml.tokens', { t: 'strs', v: tokens }],
    ['tokenizer.ggml.scores', { t: 'f32s', v: scores }],
    ['tokenizer.ggml.token_type', { t: 'i32s', v: types }],
    ['tokenizer.ggml.unknown_token_id', { t: 'u32', v: UNK }],
    ['tokenizer.ggml.bos_token_id', { t: 'u32', v: BOS }],
    ['tokenizer.ggml.eos_token_id', { t: 'u32', v: EOS }],
    ['tokenizer.ggml.add_bos_token', { t: 'bool', v: true }],
    ['tokenizer.ggml.add_eos_token', { t: 'bool', v: false }],
    ['tokenizer.ggml.add_space_prefix', { t: 'bool', v: false }],
    ['tokenizer.chat_template', { t: 'str', v: CHAT_TEMPLATE }],
  ];
  const tensors = buildTensors(opts.loop ?? false);

  const o = new Out();
  o.bytes(Buffer.from('GGUF', 'ascii'));
  o.u32(3); // version
  o.u64(tensors.length);
  o.u64(kv.length);
  for (const [k, v] of kv) o.str(k), writeValue(o, v);
  let offset = 0;
  for (const t of tensors) {
    o.str(t.name);
    o.u32(t.dims.length);
    for (const d of t.dims) o.u64(d);
    o.u32(GGML_TYPE_F32);
    o.u64(offset);
    offset += Math.ceil(t.data.byteLength / ALIGN) * ALIGN;
  }
  o.pad(ALIGN);
  for (const t of tensors) {
    o.bytes(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    o.pad(ALIGN);
  }
  return o.buffer();
}

/** Writes the test model to `file` (about 2.6 MB) and returns the path. */
export function writeTinyGguf(file: string, opts: TinyGgufOptions = {}): string {
  fs.writeFileSync(file, ggufBytes(opts));
  return file;
}
