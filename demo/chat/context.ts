/**
 * Keeping a conversation inside the model's context: when the history plus room for the reply no
 * longer fits, the oldest exchanges are left out (the system prompt always stays).
 */
import type { BrowserEngine, ChatMessage } from '../../src/index.js';

export async function countPromptTokens(engine: BrowserEngine, messages: ChatMessage[]): Promise<number> {
  const text = await engine.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  return (await engine.tokenizer.encode(text)).length;
}

export interface Fitted {
  messages: ChatMessage[];
  promptTokens: number;
  /** How many earlier messages were left out. */
  dropped: number;
}

/** `reserve`: tokens to leave free for the reply. */
export async function fitToContext(engine: BrowserEngine, messages: ChatMessage[], contextLength: number, reserve: number): Promise<Fitted> {
  const system = messages[0]?.role === 'system' ? [messages[0]] : [];
  let rest = messages.slice(system.length);
  let dropped = 0;
  for (;;) {
    const promptTokens = await countPromptTokens(engine, [...system, ...rest]);
    if (promptTokens + reserve <= contextLength || rest.length <= 1) return { messages: [...system, ...rest], promptTokens, dropped };
    // drop the oldest exchange: its user message and the replies that follow it
    let cut = 1;
    while (cut < rest.length - 1 && rest[cut]!.role !== 'user') cut++;
    dropped += cut;
    rest = rest.slice(cut);
  }
}

/** A base model without a chat template gets the messages joined as plain text. */
export async function hasChatTemplate(engine: BrowserEngine): Promise<boolean> {
  const probe = 'hearth-probe-7f3a';
  try {
    const text = await engine.tokenizer.applyChatTemplate([{ role: 'user', content: probe }], { addGenerationPrompt: true });
    return text.replace(probe, '').trim().length > 0;
  } catch {
    return false;
  }
}
