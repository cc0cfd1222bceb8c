/** Where the chat's microphone puts a transcript in the message box (demo/chat/voice.ts), and which served models it takes. */
import { describe, expect, it } from 'vitest';
import { spliceTranscript } from '../../demo/chat/voice.js';
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
