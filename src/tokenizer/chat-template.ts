import { Template } from '@huggingface/jinja';
import { HearthError } from '../errors.js';
import { corruptFile, isRecord } from './file-errors.js';
import type { ChatMessage, ChatTemplateOptions } from './types.js';

export interface ChatTemplateSettings {
  /** tokenizer_config.json's chat_template, or GGUF's tokenizer.chat_template: a string, a list of
   *  {name, template}, or a name -> template record. Absent: a default is chosen (see below). */
  source: unknown;
  /** Which file the template came from, for error messages. */
  file: string;
  /** Variables every template may read: bos_token, eos_token, unk_token, pad_token, ... */
  variables: Record<string, string>;
  /**
   * The turn format the vocabulary's own tokens name, used when the file carries no template:
   * 'chatml' (<|im_start|>, <|im_end|>), 'gemma' (<start_of_turn>, <end_of_turn>: Gemma's GGUF files
   * carry no template, and llama.cpp knows the format by name), or null.
   */
  turns: DefaultTurns;
}

export type DefaultTurns = 'chatml' | 'gemma' | null;

export interface ChatRenderer {
  /** 'template' (the model's own), 'chatml' or 'gemma' (defaults by vocabulary), or 'plain' (vocabularies without turn tokens). */
  readonly kind: 'template' | 'chatml' | 'gemma' | 'plain';
  /** The template source that renders chats, for callers who look for end-of-turn markers in it. */
  readonly text: string;
  render(messages: ChatMessage[], opts?: ChatTemplateOptions): string;
}

/**
 * Gemma's turn format: a system message is folded into the first user turn, the assistant speaks
 * as 'model', contents are trimmed, BOS leads.
 */
const GEMMA_TEXT =
  "{{ bos_token }}{% set sys = messages[0].content + '\\n\\n' if messages and messages[0].role == 'system' else '' %}" +
  "{% for m in (messages[1:] if sys else messages) %}{{ '<start_of_turn>' + ('model' if m.role == 'assistant' else m.role) + '\\n' + (sys if loop.first else '') + (m.content | trim) + '<end_of_turn>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";

const CHATML_TEXT =
  "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * Builds the chat renderer for a model.
 *
 * Without a template of its own, a vocabulary with ChatML tokens gets ChatML
 * (`<|im_start|>role\ncontent<|im_end|>\n` per message, `<|im_start|>assistant\n` to prompt), which is what
 * most small instruct models were tuned on. A vocabulary without them (a base model such as stories260K) gets
 * the message contents joined by '\n' and no generation prompt: there is no turn format such a model knows, and
 * plain text is what it continues best.
 */
export function createChatRenderer(settings: ChatTemplateSettings): ChatRenderer {
  const named = namedTemplates(settings.source, settings.file);
  if (named.size === 0) return settings.turns === 'chatml' ? chatMl() : settings.turns === 'gemma' ? gemma(settings.variables) : plain();
  const compiled = new Map<string, Template>();
  for (const [name, text] of named) {
    try {
      compiled.set(name, new Template(text));
    } catch (e) {
      throw corruptFile(settings.file, `chat template${name === 'default' ? '' : ` '${name}'`} does not parse`, e);
    }
  }
  const fallbackName = named.has('default') ? 'default' : [...named.keys()][0]!;
  return {
    kind: 'template',
    text: named.get(fallbackName)!,
    render(messages, opts = {}) {
      checkMessages(messages);
      // transformers picks the tool_use template when tools are given and the model ships one
      const name = opts.tools !== undefined && compiled.has('tool_use') ? 'tool_use' : fallbackName;
      const vars: Record<string, unknown> = {
        ...settings.variables,
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: opts.addGenerationPrompt ?? true,
      };
      if (opts.tools !== undefined) vars.tools = opts.tools;
      try {
        return compiled.get(name)!.render(vars);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        throw new HearthError('INVALID_ARGUMENT', `The model's chat template rejected these messages: ${reason}`, {
          hint: 'Check the message roles and their order against what the model expects.',
          cause: e,
        });
      }
    },
  };
}

function chatMl(): ChatRenderer {
  return {
    kind: 'chatml',
    text: CHATML_TEXT,
    render(messages, opts = {}) {
      checkMessages(messages);
      let out = '';
      for (const m of messages) out += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
      if (opts.addGenerationPrompt ?? true) out += '<|im_start|>assistant\n';
      return out;
    },
  };
}

function gemma(variables: Record<string, string>): ChatRenderer {
  const template = new Template(GEMMA_TEXT);
  return {
    kind: 'gemma',
    text: GEMMA_TEXT,
    render(messages, opts = {}) {
      checkMessages(messages);
      return template.render({ ...variables, messages: messages.map((m) => ({ ...m })), add_generation_prompt: opts.addGenerationPrompt ?? true });
    },
  };
}

function plain(): ChatRenderer {
  return {
    kind: 'plain',
    text: '',
    render(messages) {
      checkMessages(messages);
      return messages.map((m) => m.content).join('\n');
    },
  };
}

function namedTemplates(source: unknown, file: string): Map<string, string> {
  const out = new Map<string, string>();
  if (source === undefined || source === null || source === '') return out;
  if (typeof source === 'string') {
    out.set('default', source);
  } else if (Array.isArray(source)) {
    for (const entry of source) {
      if (!isRecord(entry) || typeof entry.name !== 'string' || typeof entry.template !== 'string') {
        throw corruptFile(file, 'chat_template list entries must be {name, template} strings');
      }
      out.set(entry.name, entry.template);
    }
  } else if (isRecord(source)) {
    for (const [name, template] of Object.entries(source)) {
      if (typeof template !== 'string') throw corruptFile(file, `chat template '${name}' is not a string`);
      out.set(name, template);
    }
  } else {
    throw corruptFile(file, 'chat_template is neither a string nor a list of named templates');
  }
  return out;
}

function checkMessages(messages: ChatMessage[]): void {
  if (!Array.isArray(messages)) {
    throw new HearthError('INVALID_ARGUMENT', 'Chat messages must be an array of {role, content}.');
  }
  messages.forEach((m, i) => {
    if (!isRecord(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new HearthError('INVALID_ARGUMENT', `Chat message ${i} must have a string role and a string content.`);
    }
  });
}
