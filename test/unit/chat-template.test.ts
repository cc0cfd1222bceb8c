import { describe, expect, it } from 'vitest';
import { isHearthError } from '../../src/errors.js';
import { tokenizerFromGguf, tokenizerFromHf } from '../../src/tokenizer/index.js';
import { readBytes, readGgufMetadata, readJson, readText } from './tokenizer-helpers.js';

const qwenFiles = {
  vocabJson: readJson('qwen2.5-tokenizer/vocab.json'),
  mergesTxt: readText('qwen2.5-tokenizer/merges.txt'),
  tokenizerConfig: readJson('qwen2.5-tokenizer/tokenizer_config.json'),
};
const qwen = tokenizerFromHf(qwenFiles);
const smolJson = readJson('smollm2-135m-instruct-tokenizer/tokenizer.json');
const smol = tokenizerFromHf({ tokenizerJson: smolJson });
const storiesMd = readGgufMetadata(readBytes('stories260K/stories260K.gguf'));
const stories = tokenizerFromGguf(storiesMd);

// Expected strings follow the template text in qwen2.5-tokenizer/tokenizer_config.json line by line
const QWEN_DEFAULT_SYSTEM = '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n';

describe("Qwen2.5's own chat template", () => {
  it('adds its default system prompt when there is no system message', () => {
    expect(qwen.applyChatTemplate([{ role: 'user', content: 'Hello' }], { addGenerationPrompt: true })).toBe(
      QWEN_DEFAULT_SYSTEM + '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('uses a given system message and renders a multi-turn chat', () => {
    const text = qwen.applyChatTemplate(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: '2+2?' },
      ],
      { addGenerationPrompt: false },
    );
    expect(text).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n' +
        '<|im_start|>user\nHi<|im_end|>\n' +
        '<|im_start|>assistant\nHello!<|im_end|>\n' +
        '<|im_start|>user\n2+2?<|im_end|>\n',
    );
  });

  it('adds the generation prompt by default, for prompting', () => {
    expect(qwen.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toMatch(/<\|im_start\|>assistant\n$/);
  });

  it('renders tools into the system turn', () => {
    const tools = [{ type: 'function', function: { name: 'get_time', description: 'Current time', parameters: { type: 'object', properties: {} } } }];
    const text = qwen.applyChatTemplate([{ role: 'user', content: 'Time?' }], { tools });
    expect(text.startsWith('<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n')).toBe(true);
    expect(text).toContain('"name": "get_time"');
    expect(text).toContain('<tools>');
    expect(text.endsWith('<|im_start|>user\nTime?<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
  });

  it('encodes a chat without a BOS (Qwen has none) and with each marker as one id', () => {
    const ids = qwen.encodeChat([{ role: 'user', content: 'Hello' }]);
    expect(ids[0]).toBe(151644);
    expect(ids.filter((id) => id === 151644)).toHaveLength(3);
    expect(ids.filter((id) => id === 151645)).toHaveLength(2);
    expect(qwen.decode(ids)).toBe(qwen.applyChatTemplate([{ role: 'user', content: 'Hello' }]));
  });
});

describe('default templates', () => {
  it('SmolLM2 (ChatML tokens, no template given) gets ChatML', () => {
    const messages = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Hi' },
    ];
    expect(smol.applyChatTemplate(messages)).toBe(
      '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(smol.applyChatTemplate(messages, { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
    );
    const ids = smol.encodeChat([{ role: 'user', content: 'Hi' }]);
    expect(ids).toEqual([1, ...smol.encode('user\nHi'), 2, ...smol.encode('\n'), 1, ...smol.encode('assistant\n')]);
  });

  it('a base model without ChatML tokens (stories260K) gets the plain text of the messages', () => {
    expect(stories.applyChatTemplate([{ role: 'user', content: 'Once upon a time' }])).toBe('Once upon a time');
    expect(stories.applyChatTemplate([
      { role: 'system', content: 'A story.' },
      { role: 'user', content: 'Once upon a time' },
    ])).toBe('A story.\nOnce upon a time');
    // BOS and the leading space are added as for any prompt
    expect(stories.encodeChat([{ role: 'user', content: 'Once upon a time' }])).toEqual([1, 403, 407, 261, 378]);
  });
});

describe("Gemma's turn format, for vocabularies with <start_of_turn> and no template (Gemma 3's GGUF files)", () => {
  // stories260K's vocabulary with two of its pieces renamed to Gemma's turn markers, typed as control tokens
  const md = new Map(storiesMd);
  const tokens = [...(md.get('tokenizer.ggml.tokens') as string[])];
  const types = [...(md.get('tokenizer.ggml.token_type') as number[])];
  tokens[500] = '<start_of_turn>';
  tokens[501] = '<end_of_turn>';
  types[500] = 3;
  types[501] = 3;
  md.set('tokenizer.ggml.tokens', tokens).set('tokenizer.ggml.token_type', types);
  const tok = tokenizerFromGguf(md);

  it('renders turns as Gemma does: BOS first, the system message folded into the first user turn, the assistant as model', () => {
    expect(tok.applyChatTemplate([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: ' Hi ' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Capital of France?' },
    ])).toBe('<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nCapital of France?<end_of_turn>\n<start_of_turn>model\n');
    expect(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false })).toBe('<s><start_of_turn>user\nHi<end_of_turn>\n');
  });

  it('stops at <end_of_turn> and writes one BOS', () => {
    expect(tok.eosIds).toContain(501);
    const ids = tok.encodeChat([{ role: 'user', content: 'Hi' }]);
    expect(ids.slice(0, 2)).toEqual([1, 500]);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
  });
});

describe('templates with bos_token, eos_token and raise_exception', () => {
  const LLAMA2_STYLE =
    "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation roles must start with user') }}{% endif %}" +
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}" +
    "{% else %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}";
  const md = new Map(storiesMd).set('tokenizer.chat_template', LLAMA2_STYLE);
  const tok = tokenizerFromGguf(md);

  it('passes the GGUF special tokens as bos_token and eos_token', () => {
    const text = tok.applyChatTemplate([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Tell a story' },
    ]);
    expect(text).toBe('<s>[INST] Hi [/INST] Hello </s><s>[INST] Tell a story [/INST]');
  });

  it('does not add a second BOS when the template writes one', () => {
    const ids = tok.encodeChat([{ role: 'user', content: 'Hi' }]);
    expect(ids[0]).toBe(1);
    expect(ids[1]).not.toBe(1);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
  });

  it("turns the template's raise_exception into an INVALID_ARGUMENT error", () => {
    try {
      tok.applyChatTemplate([{ role: 'assistant', content: 'Hi' }]);
      throw new Error('expected an error');
    } catch (e) {
      expect(isHearthError(e, 'INVALID_ARGUMENT')).toBe(true);
      expect((e as Error).message).toContain('Conversation roles must start with user');
    }
  });

  it('rejects messages without a string role and content', () => {
    expect(() => tok.applyChatTemplate([{ role: 'user' } as never])).toThrowError(/string content/);
    expect(() => smol.applyChatTemplate('hi' as never)).toThrowError(/array/);
  });
});

describe('named templates', () => {
  const config = {
    ...(qwenFiles.tokenizerConfig as Record<string, unknown>),
    chat_template: [
      { name: 'default', template: "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}" },
      { name: 'tool_use', template: "TOOLS {{ tools | length }}{% for m in messages %} {{ m.content }}{% endfor %}" },
    ],
  };
  const tok = tokenizerFromHf({ ...qwenFiles, tokenizerConfig: config });

  it('uses "default" normally and "tool_use" when tools are given, as transformers does', () => {
    expect(tok.applyChatTemplate([{ role: 'user', content: 'a' }])).toBe('[user] a\n');
    expect(tok.applyChatTemplate([{ role: 'user', content: 'a' }], { tools: [{}, {}] })).toBe('TOOLS 2 a');
  });

  it('reads GGUF named templates too', () => {
    const md = new Map(storiesMd)
      .set('tokenizer.chat_template', 'D{{ messages[0].content }}')
      .set('tokenizer.chat_templates', ['tool_use'])
      .set('tokenizer.chat_template.tool_use', 'T{{ messages[0].content }}');
    const t = tokenizerFromGguf(md);
    expect(t.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('Dx');
    expect(t.applyChatTemplate([{ role: 'user', content: 'x' }], { tools: [] })).toBe('Tx');
  });

  it('names the file when a named template list is malformed', () => {
    try {
      tokenizerFromHf({ ...qwenFiles, tokenizerConfig: { chat_template: [{ name: 'default' }] } });
      throw new Error('expected an error');
    } catch (e) {
      expect(isHearthError(e, 'CORRUPT_FILE')).toBe(true);
      expect((e as Error).message).toContain('tokenizer_config.json');
    }
  });
});
