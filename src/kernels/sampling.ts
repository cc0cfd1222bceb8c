/**
 * Sampling parameters: their meaning, their defaults and their rules, defined once. The sampler
 * kernel (kernels/sample.ts), the engine and the OpenAI surface (api/) all use these; error
 * messages name the OpenAI spelling of each parameter (top_p, not topP).
 */
import { HearthError } from '../errors.js';

export interface SamplingParams {
  /** 0 = greedy (argmax) */
  temperature: number;
  /** 0 = off */
  topK: number;
  /** 1 = off */
  topP: number;
  /** 0 = off (keep tokens with p >= minP * p_max) */
  minP: number;
  /** 1 = off (HF/llama.cpp style: logit > 0 ? logit / rp : logit * rp, for tokens seen) */
  repetitionPenalty: number;
  /** 0 = off (OpenAI: logit -= count * fp) */
  frequencyPenalty: number;
  /** 0 = off (OpenAI: logit -= (count > 0) * pp) */
  presencePenalty: number;
  /** 0..MAX_TOP_LOGPROBS: how many (id, logprob) pairs to return, from the raw log-softmax of the logits */
  topLogprobs: number;
}

export interface SampleResult {
  token: number;
  /** of the chosen token under the raw log-softmax */
  logprob: number;
  top: { id: number; logprob: number }[];
  /** The smallest processed logit z a token needed to be drawn (-Infinity: no filter). */
  cutoff?: number;
}

/** OpenAI's defaults: temperature 1, every filter and penalty off. */
export const DEFAULT_SAMPLING: Readonly<SamplingParams> = {
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  frequencyPenalty: 0,
  presencePenalty: 0,
  topLogprobs: 0,
};

/** Greedy decoding: the argmax, nothing else. */
export const GREEDY_SAMPLING: Readonly<SamplingParams> = { ...DEFAULT_SAMPLING, temperature: 0 };

/** OpenAI caps top_logprobs at 20. */
export const MAX_TOP_LOGPROBS = 20;

/** Each parameter's rule: INVALID_ARGUMENT naming it (OpenAI's spelling) when it is broken. */
export function validateSampling(s: SamplingParams, maxTopLogprobs = MAX_TOP_LOGPROBS): SamplingParams {
  const bad = (param: string, v: number, want: string): never => {
    throw new HearthError('INVALID_ARGUMENT', `${param} must be ${want}, got ${v}.`, { details: { param } });
  };
  if (!(s.temperature >= 0 && Number.isFinite(s.temperature))) bad('temperature', s.temperature, 'a finite number >= 0');
  if (!(Number.isInteger(s.topK) && s.topK >= 0)) bad('top_k', s.topK, 'an integer >= 0');
  // 0 keeps only the most likely token, as OpenAI accepts it
  if (!(s.topP >= 0 && s.topP <= 1)) bad('top_p', s.topP, 'in [0, 1]');
  if (!(s.minP >= 0 && s.minP <= 1)) bad('min_p', s.minP, 'in [0, 1]');
  if (!(s.repetitionPenalty > 0 && Number.isFinite(s.repetitionPenalty))) bad('repetition_penalty', s.repetitionPenalty, 'a finite number > 0');
  if (!(Math.abs(s.frequencyPenalty) <= 2)) bad('frequency_penalty', s.frequencyPenalty, 'between -2 and 2');
  if (!(Math.abs(s.presencePenalty) <= 2)) bad('presence_penalty', s.presencePenalty, 'between -2 and 2');
  if (!(Number.isInteger(s.topLogprobs) && s.topLogprobs >= 0 && s.topLogprobs <= maxTopLogprobs)) bad('top_logprobs', s.topLogprobs, `an integer from 0 to ${maxTopLogprobs}`);
  return s;
}
