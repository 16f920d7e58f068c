export declare const REQUIRED: string;
export declare function nodeVersionProblem(version: string): string | null;
