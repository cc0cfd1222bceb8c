export function startDemo(opts?: { models?: string[]; port?: number; host?: string; dev?: boolean; skipBuild?: boolean; quiet?: boolean }): Promise<{ url: string; close: () => Promise<void> }>;
