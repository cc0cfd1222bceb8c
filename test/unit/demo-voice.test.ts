/** Where the chat's microphone puts a transcript in the message box (demo/chat/voice.ts), and which served models it takes. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SPEECH_MODEL, micError, speechModelSpec, spliceTranscript } from '../../demo/chat/voice.js';
import { isSpeechModel, type LocalModel } from '../../demo/chat/models.js';

const at = (value: string, start: number, end: number, text: string) => spliceTranscript(value, start, end, text).value;

describe('spliceTranscript', () => {
  it('fills an empty box with the text alone', () => {
    expect(at('', 0, 0, 'Hello there.')).toBe('Hello there.');
  });
  it('adds a space only where the text would touch a word', () => {
    expect(at('Say', 3, 3, 'hello')).toBe('Say hello');
    expect(at('Say ', 4, 4, 'hello')).toBe('Say hello');
    expect(at('world', 0, 0, 'Hello')).toBe('Hello world');
    expect(at('a  b', 2, 2, 'x')).toBe('a x b');
    expect(at('ab', 1, 1, 'x')).toBe('a x b');
  });
  it('replaces a selection, and returns where the replaced range ended', () => {
    const r = spliceTranscript('one two three', 4, 7, 'TWO');
    expect(r.value).toBe('one TWO three');
    expect(r).toMatchObject({ piece: 'TWO', end: 7 });
  });
  it('clamps a cursor outside the text', () => {
    expect(at('abc', 10, 12, 'd')).toBe('abc d');
    expect(at('abc', 2, 1, 'X')).toBe('ab X c');
  });
});

describe('isSpeechModel', () => {
  const model = (name: string, kind: 'file' | 'folder', files: string[]): LocalModel => ({ name, kind, url: `/local-models/${name}`, files: files.map((f) => ({ name: f, size: 1 })), bytes: files.length });
  it('takes a faster-whisper folder or a folder named whisper, never a chat model', () => {
    expect(isSpeechModel(model('whisper-tiny.en', 'folder', ['config.json', 'model.bin', 'tokenizer.json']))).toBe(true);
    expect(isSpeechModel(model('my-asr', 'folder', ['model.bin', 'tokenizer.json']))).toBe(true);
    expect(isSpeechModel(model('whisper-small', 'folder', ['config.json', 'model.safetensors', 'tokenizer.json']))).toBe(true);
    expect(isSpeechModel(model('SmolLM2', 'folder', ['config.json', 'model.safetensors', 'tokenizer.json']))).toBe(false);
    expect(isSpeechModel(model('stories260K.gguf', 'file', ['stories260K.gguf']))).toBe(false);
  });
});

describe('speechModelSpec', () => {
  const chat: LocalModel = { name: 'stories260K.gguf', kind: 'file', url: '/local-models/stories260K.gguf', files: [{ name: 'stories260K.gguf', size: 1 }], bytes: 1 };
  it("takes Systran/faster-whisper-tiny.en from the Hub when the demo serves no Whisper (what a hosted demo's user gets)", () => {
    expect(DEFAULT_SPEECH_MODEL).toBe('Systran/faster-whisper-tiny.en');
    expect(speechModelSpec('', [])).toEqual({ model: DEFAULT_SPEECH_MODEL, title: 'faster-whisper-tiny.en', local: false });
    expect(speechModelSpec('', [chat])).toMatchObject({ model: DEFAULT_SPEECH_MODEL, local: false });
  });
  it('takes the Settings choice over a served one', () => {
    const served: LocalModel = { name: 'whisper-tiny.en', kind: 'folder', url: '/local-models/whisper-tiny.en/', files: [{ name: 'model.bin', size: 1 }], bytes: 1 };
    expect(speechModelSpec('Systran/faster-whisper-base.en', [served])).toEqual({ model: 'Systran/faster-whisper-base.en', title: 'faster-whisper-base.en', local: false });
  });
});

describe('micError', () => {
  it("names getUserMedia's failures as the user should read them, each with a hint", () => {
    const cases: [string, string][] = [
      ['NotAllowedError', 'MIC_PERMISSION_DENIED'],
      ['SecurityError', 'MIC_PERMISSION_DENIED'],
      ['NotFoundError', 'MIC_NOT_FOUND'],
      ['OverconstrainedError', 'MIC_NOT_FOUND'],
      ['NotReadableError', 'MIC_UNAVAILABLE'],
    ];
    for (const [name, code] of cases) {
      const e = micError(new DOMException('x', name));
      expect(e.code, name).toBe(code);
      expect(e.problem.hint!.length).toBeGreaterThan(20);
    }
    expect(micError(new Error('odd')).code).toBe('MIC_UNAVAILABLE');
  });
});
