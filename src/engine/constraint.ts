/**
 * Constrained decoding: which token ids may come next, as a bitmask the GPU sampler applies
 * before every sampling mode (src/kernels/sample.ts). Grammars come from XGrammar
 * (@mlc-ai/web-xgrammar, see ./xgrammar.ts): JSON Schema, EBNF (GBNF-style), regular expressions and
 * structural tags (tool calls), compiled once per (grammar, tokenizer) and cached.
 */
import type { CompiledGrammar, GrammarCompiler, GrammarMatcher, StructuralTagFormat, TokenizerInfo } from '@mlc-ai/web-xgrammar';
import { HearthError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadXGrammar, xgrammarCall } from './xgrammar.js';

export interface TokenConstraint {
  /** Allowed ids for the next token as a bitmask (bit id&31 of word id>>5), or null for "all allowed". */
  nextMask(): Uint32Array | null;
  /** Advance with the sampled token id. */
  accept(id: number): void;
  /** True if the output so far is a complete match, so the model may stop (EOS allowed) here. */
  canStop(): boolean;
  /** True if no further token can follow (generation ends with finish_reason 'stop'). */
  isTerminated(): boolean;
  /** Frees what the constraint holds (a grammar matcher's wasm memory); whoever created it calls this when the request ends. */
  dispose?(): void;
}

/** What a constraint is compiled from. */
export type GrammarSource =
  /** Any JSON object. */
  | { type: 'json_object' }
  /** A JSON Schema (checked by the caller); only what it names is generated (XGrammar's strict mode). */
  | { type: 'json_schema'; schema: unknown }
  /** An EBNF grammar in XGrammar's dialect (GBNF-compatible: `root ::= ...`, "strings", [classes], * + ?). */
  | { type: 'grammar'; grammar: string; root?: string }
  /** A regular expression the whole output must match. */
  | { type: 'regex'; pattern: string }
  /** An XGrammar structural tag (text and tagged JSON: how tool calls are constrained). */
  | { type: 'structural_tag'; format: StructuralTagFormat };

/** Decoded vocabulary encodings XGrammar understands. */
type VocabType = 'byte_level' | 'byte_fallback' | 'raw';

/**
 * Every id's token as the vocabulary spells it, with the encoding that turns it into bytes:
 * byte-level BPE (GPT-2 style: Ġ for a space, Ċ for a newline), SentencePiece with byte fallback
 * (▁ for a space, <0x0A> for raw bytes), else the raw strings. Special tokens (and ids past the
 * tokenizer, up to the logits' size) become '', which XGrammar never allows inside a grammar.
 */
export function grammarVocab(tokenizer: Tokenizer, vocabSize: number): { tokens: string[]; type: VocabType } {
  const tokens: string[] = new Array<string>(vocabSize);
  for (let id = 0; id < vocabSize; id++) tokens[id] = id < tokenizer.vocabSize && !tokenizer.isSpecial(id) ? (tokenizer.idToToken(id) ?? '') : '';
  const type: VocabType = tokenizer.tokenToId('<0x0A>') !== undefined ? 'byte_fallback' : tokenizer.tokenToId('Ċ') !== undefined || tokenizer.tokenToId('Ġ') !== undefined ? 'byte_level' : 'raw';
  return { tokens, type };
}

interface CompilerEntry {
  info: TokenizerInfo;
  compiler: GrammarCompiler;
  grammars: Map<string, Promise<CompiledGrammar>>;
  stopIds: number[];
  vocabSize: number;
}

const compilers = new WeakMap<Tokenizer, Map<number, Promise<CompilerEntry>>>();
/** Compiled grammars kept per tokenizer; the oldest is dropped past this. */
const MAX_CACHED_GRAMMARS = 64;

function compilerFor(tokenizer: Tokenizer, vocabSize: number): Promise<CompilerEntry> {
  let byVocab = compilers.get(tokenizer);
  if (!byVocab) compilers.set(tokenizer, (byVocab = new Map()));
  let entry = byVocab.get(vocabSize);
  if (!entry) {
    entry = (async () => {
      const xg = await loadXGrammar();
      const { tokens, type } = grammarVocab(tokenizer, vocabSize);
      const stopIds = tokenizer.eosIds.filter((id) => id < vocabSize);
      const info = await xg.TokenizerInfo.createTokenizerInfo(tokens, type, false, vocabSize, stopIds);
      const compiler = await xg.GrammarCompiler.createGrammarCompiler(info, false);
      return { info, compiler, grammars: new Map(), stopIds, vocabSize };
    })();
    byVocab.set(vocabSize, entry);
    entry.catch(() => byVocab.delete(vocabSize));
  }
  return entry;
}

/** A grammar that does not compile: INVALID_ARGUMENT naming the request field and XGrammar's reason. */
function grammarError(param: string, reason: string): HearthError {
  return new HearthError('INVALID_ARGUMENT', `${param} does not compile to a grammar: ${reason}`, {
    hint: 'Fix the grammar or schema; Hearth lists what it supports in its README (Structured output).',
    details: { param, reason },
  });
}

/**
 * Numeric bounds as XGrammar can enforce them. Its range grammars (0.1.27) are exact for integer
 * bounds on integers, but for numbers they let the fraction run past an endpoint (-10.9 under
 * minimum -10), mishandle fractional endpoints, and let exclusiveMinimum 0 through at 0. So every
 * bound becomes an inclusive integer one: exact for integers; for numbers, one whole unit inside
 * each bound, which keeps every fraction XGrammar adds within the original range.
 * Returns null when that leaves no number (a range narrower than 2 units), for the caller to refuse.
 */
export function enforceableBounds(s: Record<string, unknown>): { minimum?: number; maximum?: number } | null {
  const integer = s.type === 'integer';
  const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  let lo: number | undefined;
  let hi: number | undefined;
  const min = num('minimum');
  const xmin = num('exclusiveMinimum');
  const max = num('maximum');
  const xmax = num('exclusiveMaximum');
  if (min !== undefined) lo = integer ? Math.ceil(min) : Math.ceil(min) + 1;
  if (xmin !== undefined) lo = Math.max(lo ?? -Infinity, integer ? Math.floor(xmin) + 1 : Math.floor(xmin) + 2);
  if (max !== undefined) hi = integer ? Math.floor(max) : Math.floor(max) - 1;
  if (xmax !== undefined) hi = Math.min(hi ?? Infinity, integer ? Math.ceil(xmax) - 1 : Math.ceil(xmax) - 2);
  if (lo !== undefined && hi !== undefined && lo > hi) return null;
  return { ...(lo !== undefined ? { minimum: lo } : {}), ...(hi !== undefined ? { maximum: hi } : {}) };
}

/** A copy of a (checked) schema with every numeric bound rewritten by enforceableBounds. */
function schemaForXGrammar(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(schemaForXGrammar);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    // enum and const hold values, not schemas
    out[k] = k === 'enum' || k === 'const' ? v : schemaForXGrammar(v);
  }
  if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].some((k) => typeof out[k] === 'number')) {
    const b = enforceableBounds(out);
    delete out.minimum;
    delete out.maximum;
    delete out.exclusiveMinimum;
    delete out.exclusiveMaximum;
    Object.assign(out, b);
  }
  return out;
}

/**
 * A structural tag whose JSON Schema contents become grammars compiled as response_format's are
 * (no free whitespace: inside a structural tag XGrammar would allow any, and a model that knows
 * no JSON fills the budget with newlines), bounds rewritten by schemaForXGrammar.
 */
async function tagForXGrammar(format: unknown): Promise<unknown> {
  if (Array.isArray(format)) return Promise.all(format.map(tagForXGrammar));
  if (typeof format !== 'object' || format === null) return format;
  const f = format as Record<string, unknown>;
  if (f.type === 'json_schema') {
    const xg = await loadXGrammar();
    const g = await xg.Grammar.fromJSONSchema(JSON.stringify(schemaForXGrammar(f.json_schema)), false, -1, undefined, true);
    const grammar = g.toString();
    g.dispose();
    return { type: 'grammar', grammar };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[k] = await tagForXGrammar(v);
  return out;
}

async function compile(e: CompilerEntry, src: GrammarSource, param: string): Promise<CompiledGrammar> {
  const c = e.compiler;
  return xgrammarCall(async () => {
    switch (src.type) {
      case 'json_object':
        return c.compileJSONSchema('{"type": "object"}', false, -1, undefined, false);
      case 'json_schema':
        return c.compileJSONSchema(JSON.stringify(schemaForXGrammar(src.schema)), false, -1, undefined, true);
      case 'grammar':
        return c.compileGrammar(src.grammar, src.root ?? 'root');
      case 'regex':
        return c.compileStructuralTag({ type: 'structural_tag', format: { type: 'regex', pattern: src.pattern } });
      case 'structural_tag':
        return c.compileStructuralTag({ type: 'structural_tag', format: (await tagForXGrammar(src.format)) as StructuralTagFormat });
    }
  }, (reason) => grammarError(param, reason));
}

export interface CompiledConstraint {
  /** A fresh matcher at the start of the grammar, for one request. */
  create(): Promise<TokenConstraint>;
  /** Milliseconds this compile took (0 when it came from the cache). */
  compileMs: number;
}

/**
 * Compiles `src` for this tokenizer (cached per tokenizer, logits size and source), or throws
 * INVALID_ARGUMENT naming `param` when it does not compile. Nothing is generated before this.
 */
export async function compileConstraint(tokenizer: Tokenizer, vocabSize: number, src: GrammarSource, param: string): Promise<CompiledConstraint> {
  const e = await compilerFor(tokenizer, vocabSize);
  const key = JSON.stringify(src);
  let compileMs = 0;
  let p = e.grammars.get(key);
  if (p) {
    e.grammars.delete(key); // most recently used last
  } else {
    const t0 = performance.now();
    p = compile(e, src, param);
    p.then(() => (compileMs = performance.now() - t0), () => e.grammars.delete(key));
    if (e.grammars.size >= MAX_CACHED_GRAMMARS) {
      const oldest = e.grammars.keys().next().value!;
      void e.grammars.get(oldest)!.then((g) => g.dispose(), () => undefined);
      e.grammars.delete(oldest);
    }
  }
  e.grammars.set(key, p);
  const compiled = await p;
  const xg = await loadXGrammar();
  return {
    compileMs,
    create: async () => new GrammarConstraint(await xg.GrammarMatcher.createGrammarMatcher(compiled), e.vocabSize, e.stopIds),
  };
}

interface VectorHandle {
  size(): number;
  get(i: number): number;
  delete(): void;
}

/** One request's position in a compiled grammar. */
class GrammarConstraint implements TokenConstraint {
  private mask: Uint32Array | null = null;
  private readonly words: number;
  private disposed = false;

  constructor(
    private readonly matcher: GrammarMatcher,
    private readonly vocabSize: number,
    private readonly stopIds: number[],
  ) {
    this.words = Math.ceil(vocabSize / 32);
  }

  nextMask(): Uint32Array {
    if (this.mask) return this.mask;
    // GrammarMatcher.getNextTokenBitmask is async only to start the wasm, which has started by now;
    // the binding it wraps is synchronous
    const v = (this.matcher as unknown as { handle: { GetNextTokenBitmask(n: number): VectorHandle } }).handle.GetNextTokenBitmask(this.vocabSize);
    const mask = new Uint32Array(this.words);
    for (let i = 0; i < this.words; i++) mask[i] = v.get(i) >>> 0;
    v.delete();
    this.mask = mask;
    return mask;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.matcher.dispose();
  }

  accept(id: number): void {
    if (!this.matcher.acceptToken(id)) {
      throw new HearthError('INTERNAL', `Token ${id} was sampled outside the grammar's mask.`, { hint: 'This is a bug in Hearth; please report it with the request.' });
    }
    this.mask = null;
  }

  canStop(): boolean {
    if (this.matcher.isTerminated()) return true;
    const m = this.nextMask();
    return this.stopIds.some((id) => ((m[id >>> 5]! >>> (id & 31)) & 1) === 1);
  }

  isTerminated(): boolean {
    if (this.matcher.isTerminated()) return true;
    const m = this.nextMask();
    for (let w = 0; w < m.length; w++) {
      let bits = m[w]!;
      if (bits === 0) continue;
      for (const id of this.stopIds) if (id >>> 5 === w) bits &= ~(1 << (id & 31));
      if (bits !== 0) return false;
    }
    return true;
  }
}
