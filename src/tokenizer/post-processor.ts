/** A special token by its text and id. */
export interface TokenRef {
  content: string;
  id: number;
}

/**
 * The tokenizer.json post-processor that puts BOS before and EOS after an encoded text, for layouts that do not
 * carry one (vocab.json + merges.txt, GGUF) or whose config overrides it (add_bos_token / add_eos_token).
 */
export function bosEosPostProcessor(bos: TokenRef | null, eos: TokenRef | null): Record<string, unknown> {
  const single: unknown[] = [];
  const specialTokens: Record<string, unknown> = {};
  const add = (t: TokenRef): void => {
    single.push({ SpecialToken: { id: t.content, type_id: 0 } });
    specialTokens[t.content] = { id: t.content, ids: [t.id], tokens: [t.content] };
  };
  if (bos) add(bos);
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (eos) add(eos);
  return { type: 'TemplateProcessing', single, pair: single, special_tokens: specialTokens };
}
