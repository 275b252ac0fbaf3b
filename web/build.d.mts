/** Types of web/build.mjs for the TypeScript callers (tests). */
export declare const WEB_SRC: string;
export declare const WEB_OUT: string;
export declare function sourcesMtime(): number;
export declare function webBuildStale(outDir?: string): boolean;
export declare function buildWeb(opts?: { outDir?: string }): Promise<{
  outDir: string;
  js: string;
  css: string;
  sizes: Record<string, { raw: number; gzip: number; brotli: number }>;
}>;
