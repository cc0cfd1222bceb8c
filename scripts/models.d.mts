export const SMOLLM2_135M: string;
export const GEMMA3_270M: string;
export const WHISPER_TINY_EN: string;
export function modelsDir(env?: NodeJS.ProcessEnv): string;
export function defaultModels(env?: NodeJS.ProcessEnv): string[];
export function missingDefaultModels(env?: NodeJS.ProcessEnv): string[];
