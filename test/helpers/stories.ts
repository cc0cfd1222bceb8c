/** The real stories260K model in ../shared/models and its known output (from its README). */
export const STORIES = new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url).pathname;
export const KNOWN_IDS = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267];
export const KNOWN_TEXT = ' Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to';
