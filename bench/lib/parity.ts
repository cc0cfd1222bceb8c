/**
 * Hearth against llama.cpp on the same GGUF, token for token: the same tokenization, the same
 * greedy continuation, and next-token log-probabilities close at every step.
 *
 * llama.cpp generates the reference (greedy, top-K log-probabilities per step). Hearth then runs
 * the prompt and llama.cpp's whole continuation as one prefill (teacher forcing, Engine.score) and
 * is compared at every position: its argmax against llama.cpp's choice, and its log-probability of
 * each of llama.cpp's top-K against llama.cpp's own. If every argmax agrees, Hearth's free-running
 * greedy output is the same sequence (same inputs, same argmax at each step); where one differs,
 * that is where a free run would diverge, and the gap between llama.cpp's top two there tells a
 * near-tie (two tokens almost equally likely, where rounding decides) from a real disagreement.
 * Teacher forcing keeps comparing after a divergence, along llama.cpp's path.
 */
import type { Engine } from '../../src/engine/engine.js';
import type { ChatMessage } from '../../src/tokenizer/index.js';
import type { LlamaCpp, LlamaCppCompletion } from './llama-cpp.js';

export interface ParityPrompt {
  name: string;
  /** A plain-text prompt, or a chat rendered through the model's own template (generation prompt added). */
  text?: string;
  chat?: ChatMessage[];
}

/** Below this gap between llama.cpp's two most likely tokens, a different argmax is a near-tie. */
export const NEAR_TIE = 0.05;

export interface Divergence {
  /** Step (0-based, into the continuation) where Hearth's argmax differs from llama.cpp's choice. */
  step: number;
  llamaCpp: { id: number; logprob: number }[];
  hearth: { id: number; logprob: number }[];
  /** llama.cpp's top-1 minus top-2 log-probability there. */
  gap: number;
  nearTie: boolean;
}

export interface PromptParity {
  name: string;
  /** The prompt text both sides tokenized. */
  text: string;
  hearthIds: number[];
  llamaCppIds: number[];
  tokenizationEqual: boolean;
  /** False when llama.cpp's tokenizer was not loaded: only the prompt's token count was compared. */
  tokenizationChecked: boolean;
  steps: number;
  /** llama.cpp's greedy continuation, decoded by Hearth. */
  continuation: string;
  /** Every step's argmax equal: Hearth's greedy run gives the same tokens. */
  greedyEqual: boolean;
  divergences: Divergence[];
  /** |Hearth - llama.cpp| over llama.cpp's top-K at every step: worst and mean. */
  worstLogprobDiff: number;
  meanLogprobDiff: number;
  /** Step of the worst difference. */
  worstAt: number;
  llamaCpp: Pick<LlamaCppCompletion, 'prefillTokensPerSecond' | 'decodeTokensPerSecond'>;
}

export function promptText(engine: Engine, p: ParityPrompt): string {
  if (p.text !== undefined) return p.text;
  return engine.tokenizer.applyChatTemplate(p.chat!, { addGenerationPrompt: true });
}

/** A prompt as Hearth tokenizes it and as llama.cpp does. */
export async function tokenizeBoth(engine: Engine, llama: LlamaCpp, p: ParityPrompt): Promise<{ text: string; hearthIds: number[]; llamaText: string; llamaCppIds: number[]; checked: boolean }> {
  const text = promptText(engine, p);
  const hearthIds = p.chat ? engine.tokenizer.encodeChat(p.chat, { addGenerationPrompt: true }) : engine.tokenizer.encode(text, { addSpecialTokens: true });
  // a template that writes BOS itself (Gemma's): llama.cpp adds its own BOS to a text prompt, so
  // it gets the text after it (Hearth's encodeChat likewise keeps one BOS)
  const bosId = engine.tokenizer.bosId;
  const bos = bosId !== null ? engine.tokenizer.idToToken(bosId) : undefined;
  const addsBos = bosId !== null && engine.tokenizer.encode('a')[0] === bosId;
  const llamaText = p.chat && addsBos && bos && text.startsWith(bos) ? text.slice(bos.length) : text;
  // without llama.cpp's tokenizer, its count of the prompt (checked against Hearth's) stands in
  return { text, hearthIds, llamaText, llamaCppIds: llama.tokenize ? await llama.tokenize(llamaText) : hearthIds, checked: llama.tokenize !== null };
}

/** Compare Hearth and llama.cpp on one prompt over `steps` greedy tokens, top-`topK` log-probabilities. */
export async function comparePrompt(engine: Engine, llama: LlamaCpp, p: ParityPrompt, steps: number, topK: number): Promise<PromptParity> {
  const { text, hearthIds, llamaText, llamaCppIds, checked } = await tokenizeBoth(engine, llama, p);
  const ref = await llama.complete(llamaText, steps, topK);
  if (ref.promptTokens !== llamaCppIds.length) throw new Error(`llama.cpp counted ${ref.promptTokens} prompt tokens for "${p.name}" but tokenized ${llamaCppIds.length}`);
  const continuation = ref.steps.map((s) => s.id);
  // teacher forcing along llama.cpp's path, from llama.cpp's own prompt tokens
  const scores = await engine.score([...llamaCppIds, ...continuation], llamaCppIds.length, topK);
  const divergences: Divergence[] = [];
  let worst = 0;
  let worstAt = 0;
  let sum = 0;
  let count = 0;
  // llama.cpp generates with ignore_eos: end-of-generation tokens are never chosen (though still
  // listed in its top-K), so its choice is the argmax of the rest, and Hearth's is compared likewise
  const eog = new Set(engine.tokenizer.eosIds);
  const choices = (top: { id: number; logprob: number }[]) => top.filter((t) => !eog.has(t.id));
  ref.steps.forEach((s, i) => {
    const ours = scores[i]!;
    const mine = choices(ours.top)[0];
    if (mine?.id !== s.id) {
      const theirs = choices(s.top);
      const gap = (theirs[0]?.logprob ?? 0) - (theirs[1]?.logprob ?? -Infinity);
      divergences.push({ step: i, llamaCpp: s.top.slice(0, 3), hearth: ours.top.slice(0, 3), gap, nearTie: gap < NEAR_TIE });
    }
    // Hearth's log-probability of each of llama.cpp's top tokens: from its own top-K when there,
    // else from a score of that very token (rare: only when the two top-K lists differ)
    for (const t of s.top) {
      const mine = ours.top.find((x) => x.id === t.id)?.logprob ?? (t.id === ours.id ? ours.logprob : undefined);
      if (mine === undefined) continue; // outside Hearth's top-K: counted below as a top-K mismatch
      const d = Math.abs(mine - t.logprob);
      sum += d;
      count++;
      if (d > worst) {
        worst = d;
        worstAt = i;
      }
    }
    // a token in llama.cpp's top-K that Hearth does not rank in its own top-K is at least as far
    // off as the gap between it and Hearth's K-th
    for (const t of s.top) {
      if (ours.top.some((x) => x.id === t.id) || t.id === ours.id) continue;
      const kth = ours.top[ours.top.length - 1]!.logprob;
      const d = Math.max(0, t.logprob - kth);
      if (d > worst) {
        worst = d;
        worstAt = i;
      }
    }
  });
  return {
    name: p.name,
    text,
    hearthIds,
    llamaCppIds,
    tokenizationEqual: hearthIds.length === llamaCppIds.length && hearthIds.every((id, i) => id === llamaCppIds[i]),
    tokenizationChecked: checked,
    steps: ref.steps.length,
    continuation: engine.tokenizer.decode(continuation, { skipSpecialTokens: false }),
    greedyEqual: divergences.length === 0,
    divergences,
    worstLogprobDiff: worst,
    meanLogprobDiff: count ? sum / count : 0,
    worstAt,
    llamaCpp: { prefillTokensPerSecond: ref.prefillTokensPerSecond, decodeTokensPerSecond: ref.decodeTokensPerSecond },
  };
}

/** A greedy divergence that is not a near-tie, or the first divergence when it is: what a reader must know. */
export function describeParity(r: PromptParity): string {
  const d = r.divergences[0];
  const head = `${r.name}: ${r.llamaCppIds.length} prompt tokens, tokenization ${!r.tokenizationChecked ? 'not checked (same count)' : r.tokenizationEqual ? 'equal' : 'DIFFERENT'}, `;
  const greedy = d
    ? `greedy diverges at step ${d.step} (llama.cpp ${d.llamaCpp.map((t) => `${t.id}:${t.logprob.toFixed(3)}`).join(' ')} | Hearth ${d.hearth.map((t) => `${t.id}:${t.logprob.toFixed(3)}`).join(' ')}; gap ${d.gap.toFixed(3)}${d.nearTie ? ', near-tie' : ''})`
    : `greedy equal over ${r.steps}`;
  return `${head}${greedy}, logprob diff worst ${r.worstLogprobDiff.toFixed(4)} (step ${r.worstAt}) mean ${r.meanLogprobDiff.toFixed(4)}`;
}

/** Prompts for chat models: plain text and chat-templated, with unicode, code and numbers. */
export const CHAT_MODEL_PROMPTS: ParityPrompt[] = [
  { name: 'capital (chat)', chat: [{ role: 'user', content: 'What is the capital of France?' }] },
  { name: 'plain story', text: 'Once upon a time, in a small village by the sea,' },
  { name: 'code', text: 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n    if n < 2:\n' },
  { name: 'numbers', text: 'The year 1969 was when humans first walked on the Moon. 3.14159 is pi, and 2 + 2 =' },
  { name: 'unicode', text: 'Café crème, naïve piñata, Zürich — “quotes” 😀🚀 — and now, in plain English, a short sentence about coffee:' },
  { name: 'system + user (chat)', chat: [{ role: 'system', content: 'You are a concise assistant.' }, { role: 'user', content: 'List three primary colors.' }] },
  { name: 'multi-turn (chat)', chat: [{ role: 'user', content: 'Hi! My name is Ana.' }, { role: 'assistant', content: 'Hello Ana! How can I help you today?' }, { role: 'user', content: 'What is my name?' }] },
  { name: 'code (chat)', chat: [{ role: 'user', content: 'Write a JavaScript function that reverses a string.' }] },
  { name: 'json', text: '{"name": "Alice", "age": 30, "languages": ["en", "fr"], "address": {"city": "' },
  { name: 'math (chat)', chat: [{ role: 'user', content: 'What is 12 times 7? Explain step by step.' }] },
];

/** Prompts for stories260K (a 512-token vocabulary of children's stories, no chat template). */
export const STORY_PROMPTS: ParityPrompt[] = [
  'Once upon a time',
  'Lily and Tom went to the park',
  'The little dog was sad because',
  'One day, a big bird',
  'Mom said, "Do not touch the hot stove."',
  'Ben had 3 red balls and 2 blue ones.',
  'The sun was shining and the flowers',
  'Sara wanted to play with her friend',
  'There was a tree in the garden',
  'The cat jumped on the table and',
].map((text, i) => ({ name: `story ${i + 1}`, text }));
