export declare const NODE24_VERSION: string;
export declare const node24Path: string;
export declare function ensureNode24(): string;
