export const SMOLLM2_135M: string;
export function modelsDir(env?: NodeJS.ProcessEnv): string;
export function defaultModels(env?: NodeJS.ProcessEnv): string[];
export function missingDefaultModels(env?: NodeJS.ProcessEnv): string[];
